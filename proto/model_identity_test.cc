#include "proto/model_identity.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "proto/grid.h"

namespace llmq {
namespace {

// A fresh directory under the test temp dir.
std::string MakeTempDir(const std::string& name) {
  const std::string dir = JoinPath(::testing::TempDir(), absl::StrCat("llmq_identity_", ::getpid(),
                                                                      "_", name));
  EXPECT_TRUE(MakeDirectories(dir).ok());
  return dir;
}

void Write(const std::string& dir, const std::string& name, const std::string& contents) {
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, name), contents).ok());
}

TEST(GridModelIdentityTest, HuggingFaceDirectoryCountsOnlyDefiningFiles) {
  const std::string dir = MakeTempDir("hf");
  Write(dir, "config.json", "{\"hidden_size\": 64}");
  Write(dir, "model.safetensors", "weights");
  Write(dir, "tokenizer.json", "{}");
  Write(dir, "README.md", "about");
  const absl::StatusOr<std::vector<std::string>> files = ModelDefiningFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files,
            (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  const std::string identity = *ComputeModelIdentity(dir);
  EXPECT_EQ(identity.size(), 64u);
  Write(dir, "README.md", "edited");
  EXPECT_EQ(*ComputeModelIdentity(dir), identity);
  Write(dir, "model.safetensors", "weightz");
  EXPECT_NE(*ComputeModelIdentity(dir), identity);
  Write(dir, "model.safetensors", "weights");
  EXPECT_EQ(*ComputeModelIdentity(dir), identity);
  Write(dir, "generation_config.json", "{\"eos_token_id\": 2}");
  EXPECT_NE(*ComputeModelIdentity(dir), identity);
}

TEST(GridModelIdentityTest, CopiesElsewhereHaveTheSameIdentity) {
  const std::string a = MakeTempDir("copy_a");
  const std::string b = MakeTempDir("copy_b");
  for (const std::string& dir : {a, b}) {
    Write(dir, "config.json", "{}");
    Write(dir, "model-00001-of-00002.safetensors", "one");
    Write(dir, "model-00002-of-00002.safetensors", "two");
    Write(dir, "model.safetensors.index.json", "{}");
  }
  EXPECT_EQ(*ComputeModelIdentity(a), *ComputeModelIdentity(b));
  // Names count: the same bytes under swapped shard names are another model.
  Write(b, "model-00001-of-00002.safetensors", "two");
  Write(b, "model-00002-of-00002.safetensors", "one");
  EXPECT_NE(*ComputeModelIdentity(a), *ComputeModelIdentity(b));
}

TEST(GridModelIdentityTest, Llama2cCheckpointFileOrDirectory) {
  const std::string dir = MakeTempDir("l2c");
  Write(dir, "model.bin", "checkpoint");
  Write(dir, "tok512.bin", "tokenizer");
  Write(dir, "tok512.model", "sentencepiece");
  Write(dir, "notes.txt", "ignored");
  EXPECT_EQ(*ModelDefiningFiles(dir),
            (std::vector<std::string>{"model.bin", "tok512.bin", "tok512.model"}));
  EXPECT_EQ(*ModelDefiningFiles(JoinPath(dir, "model.bin")),
            (std::vector<std::string>{"model.bin", "tok512.bin", "tok512.model"}));
  EXPECT_EQ(*ComputeModelIdentity(dir), *ComputeModelIdentity(JoinPath(dir, "model.bin")));
  Write(dir, "tok512.bin", "other tokenizer");
  EXPECT_NE(*ComputeModelIdentity(dir), *ComputeModelIdentity(JoinPath(dir, "notes.txt")));
}

TEST(GridModelIdentityTest, MissingModelsAreNotFound) {
  EXPECT_EQ(ComputeModelIdentity("/no/such/model").status().code(), absl::StatusCode::kNotFound);
  const std::string empty = MakeTempDir("empty");
  Write(empty, "README.md", "no weights here");
  EXPECT_EQ(ComputeModelIdentity(empty).status().code(), absl::StatusCode::kNotFound);
}

TEST(GridModelIdentityTest, BundledModels) {
  const absl::StatusOr<std::string> dir = ComputeModelIdentity("assets/models/stories260K");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, *ComputeModelIdentity("assets/models/stories260K/stories260K.bin"));
  EXPECT_EQ(*ModelDefiningFiles("assets/models/stories260K"),
            (std::vector<std::string>{"stories260K.bin", "tok512.bin", "tok512.model"}));
  const absl::StatusOr<std::vector<std::string>> hf =
      ModelDefiningFiles("assets/models/stories260K-hf");
  ASSERT_TRUE(hf.ok()) << hf.status();
  EXPECT_EQ(*hf, (std::vector<std::string>{"config.json", "generation_config.json",
                                           "model.safetensors", "tokenizer.json",
                                           "tokenizer.model", "tokenizer_config.json"}));
  EXPECT_NE(*dir, *ComputeModelIdentity("assets/models/stories260K-hf"));
}

TEST(GridModelIdentityTest, DatasetFilesAndDirectories) {
  const std::string dir = MakeTempDir("data");
  Write(dir, "a.jsonl", "{\"text\": \"x\"}\n");
  Write(dir, "b.jsonl", "{\"text\": \"x\"}\n");
  EXPECT_EQ(*ComputeFileIdentity(JoinPath(dir, "a.jsonl")),
            *ComputeFileIdentity(JoinPath(dir, "b.jsonl")));  // a renamed copy is the same
  ASSERT_TRUE(MakeDirectories(JoinPath(dir, "sub")).ok());
  const std::string before = *ComputeFileIdentity(dir);
  Write(JoinPath(dir, "sub"), "c.txt", "more");
  EXPECT_NE(*ComputeFileIdentity(dir), before);
  EXPECT_FALSE(ComputeFileIdentity(JoinPath(dir, "missing.jsonl")).ok());
}

TEST(GridModelIdentityTest, GridIdentitiesCoverModelsAndDatasetFiles) {
  const std::string dir = MakeTempDir("grid");
  Write(dir, "q.jsonl", "{}\n");
  const absl::StatusOr<Grid> grid = ParseGrid(
      "models: [assets/models/stories260K]\nmethods: [gptq]\ncalibration: {dataset: " + dir +
          "/calib.txt}\ntasks: [ppl]\n",
      "grid.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  // calib.txt does not exist: the error names it.
  const absl::StatusOr<PathIdentities> missing = ComputeGridIdentities(*grid);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "grid.yaml:3:15: calibration: dataset: " + dir + "/calib.txt: no such file");
  const absl::StatusOr<Grid> no_model =
      ParseGrid("tasks: [ppl]\nmodels:\n  - {name: m, path: no/such/model}\n", "g.yaml");
  ASSERT_TRUE(no_model.ok()) << no_model.status();
  EXPECT_EQ(ComputeGridIdentities(*no_model).status().message(),
            "g.yaml:3:5: models: m: no/such/model: no such model");

  const absl::StatusOr<Grid> ok = ParseGrid(
      "models: [assets/models/stories260K]\ntasks: [{name: mc, dataset: " + dir +
          "/q.jsonl}, ppl]\n",
      "grid.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  const absl::StatusOr<PathIdentities> identities = ComputeGridIdentities(*ok);
  ASSERT_TRUE(identities.ok()) << identities.status();
  EXPECT_EQ(identities->size(), 2u);  // the model and q.jsonl; wikitext2 is bundled
  EXPECT_EQ(identities->at("assets/models/stories260K"),
            *ComputeModelIdentity("assets/models/stories260K"));
  EXPECT_TRUE(ExpandGrid(*ok, *identities).ok());
}

}  // namespace
}  // namespace llmq
