
#include <set>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/version.h"
#include "grid/grid.h"
#include "grid/keys.h"
#include "grid/schema.h"
#include "grid/test_util.h"
#include "grid/values.h"

namespace llmq {
namespace {

using testing_util::MustParse;

const std::string kModelA(64, 'a');
const std::string kModelB(64, 'b');

// The keys of the jobs of `yaml`, every model path having identity `identity`.
std::vector<std::string> Keys(const std::string& yaml, const std::string& identity = kModelA,
                              bool quant = false) {
  const Grid grid = MustParse(yaml);
  PathIdentities identities;
  for (const GridModel& model : grid.models) identities[model.path] = identity;
  identities["data/q.jsonl"] = std::string(64, 'd');
  absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, identities);
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  std::vector<std::string> keys;
  if (!jobs.ok()) return keys;
  for (const v1::JobSpec& job : *jobs) keys.push_back(quant ? job.quant_key() : job.job_key());
  return keys;
}

std::string Key(const std::string& yaml, const std::string& identity = kModelA) {
  const std::vector<std::string> keys = Keys(yaml, identity);
  EXPECT_EQ(keys.size(), 1u) << yaml;
  return keys.empty() ? "" : keys[0];
}

std::string QuantKey(const std::string& yaml) {
  const std::vector<std::string> keys = Keys(yaml, kModelA, true);
  return keys.empty() ? "" : keys[0];
}

TEST(GridKeysTest, RecordIsVersionedReadableAndStable) {
  const Grid grid = MustParse("models: [m/x]\nmethods: [rtn]\ntasks: [boolq]\n");
  const PathIdentities identities = {{"m/x", kModelA}};
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, identities);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  const std::string expected = absl::StrCat(
      "llmq-job-key/1\n"
      "result_version=", kResultVersion, "\n"
      "model.identity=", kModelA, "\n"
      "model.dtype=float32\n"
      "method.name=rtn\n"
      "method.bits=4\n"
      "method.group_size=128\n"
      "method.keep=\n"
      "method.sym=false\n"
      "task.name=boolq\n"
      "task.bos=true\n"
      "task.dataset=\n"
      "task.limit=0\n"
      "task.seed=1234\n"
      "task.subsample=shuffle\n"
      "repeat=0\n");
  EXPECT_EQ(*CanonicalJobRecord((*jobs)[0], identities), expected);
  EXPECT_EQ((*jobs)[0].job_key(), Sha256Hex(expected));
  EXPECT_EQ(*ComputeJobKey((*jobs)[0], identities), (*jobs)[0].job_key());
  EXPECT_EQ(*CanonicalQuantRecord((*jobs)[0], identities),
            absl::StrCat("llmq-quant-key/1\nresult_version=", kResultVersion,
                         "\nmodel.identity=", kModelA,
                         "\nmodel.dtype=float32\nmethod.name=rtn\nmethod.bits=4\n"
                         "method.group_size=128\nmethod.keep=\nmethod.sym=false\n"));
}

TEST(GridKeysTest, UnchangedByAliasPathAndJobOptions) {
  const std::string base = Key("models: [{name: a, path: m/x}]\ntasks: [ppl]\n");
  EXPECT_EQ(base, Key("models: [{name: other, path: /elsewhere/y}]\ntasks: [ppl]\n"));
  EXPECT_EQ(base, Key("name: renamed\nmodels: [{name: a, path: m/x}]\ntasks: [ppl]\n"
                      "timeout: 2h\nmax_attempts: 9\npriority: 5\n"
                      "resources: {device: cuda, memory: 8GiB}\n"));
  EXPECT_NE(base, Key("models: [{name: a, path: m/x}]\ntasks: [ppl]\n", kModelB));
}

TEST(GridKeysTest, UnchangedByParameterOrderSpellingAndExplicitDefaults) {
  const std::string base = Key("models: [m/x]\nmethods: [gptq]\ntasks: [ppl]\n");
  EXPECT_EQ(base, Key(R"(models: [{path: m/x, dtype: fp32}]
methods:
  - damp: 1e-2
    true_sequential: yes
    name: gptq
    block_size: 128
    keep: ""
    bits: 4
    group_size: 128
    sym: false
    act_order: false
    static_groups: false
calibration: {dataset: c4, samples: 128, seq_len: 2048, seed: 0, mode: random}
tasks:
  - {context: 2048, name: ppl, dataset: wikitext2, format: text, protocol: windows,
     bos: true, limit: 0, field: ignored, stride: 7}
)"));
  // Parameter sets written in another order.
  EXPECT_EQ(Key("models: [m/x]\nmethods:\n  - {name: rtn, keep: \"b.*, a\"}\ntasks: [ppl]\n"),
            Key("models: [m/x]\nmethods:\n  - {name: rtn, keep: \"a,b.*\"}\ntasks: [ppl]\n"));
  EXPECT_EQ(Key("models: [m/x]\ntasks: [{name: efficiency, prompt_lengths: \"512,128\"}]\n"),
            Key("models: [m/x]\ntasks: [{name: efficiency, prompt_lengths: \"128, 512\"}]\n"));
  // A derived default written out.
  EXPECT_EQ(Key("models: [m/x]\ntasks: [{name: ppl, protocol: rolling, context: 512}]\n"),
            Key("models: [m/x]\ntasks: [{name: ppl, protocol: rolling, context: 512, "
                "stride: 256}]\n"));
  EXPECT_EQ(Key("models: [m/x]\ntasks: [{name: ppl, dataset: tinystories}]\n"),
            Key("models: [m/x]\ntasks: [{name: ppl, dataset: tinystories, format: "
                "paragraphs}]\n"));
}

TEST(GridKeysTest, UnchangedByParametersThatDoNotChangeResults) {
  for (const char* task : {"boolq", "gsm8k", "msmarco"}) {
    EXPECT_EQ(Key(absl::StrCat("models: [m/x]\ntasks: [{name: ", task, ", batch_size: 1}]\n")),
              Key(absl::StrCat("models: [m/x]\ntasks: [{name: ", task, ", batch_size: 64}]\n")))
        << task;
  }
  // Calibration does not enter the keys of methods that do not calibrate.
  EXPECT_EQ(Key("models: [m/x]\nmethods: [rtn]\ntasks: [ppl]\ncalibration: {samples: 8}\n"),
            Key("models: [m/x]\nmethods: [rtn]\ntasks: [ppl]\n"));
}

// A valid value of `param` other than `current`.
std::string OtherValue(const GridParamSchema& param, const std::string& current) {
  switch (param.type) {
    case GridParamType::kInt: {
      const int64_t value = *ParseGridInt(current);
      return absl::StrCat(value + 1 <= param.max_int ? value + 1 : value - 1);
    }
    case GridParamType::kFloat:
      return CanonicalFloat(current == CanonicalFloat(param.min_float)
                                ? (param.min_float + param.max_float) / 2
                                : param.min_float);
    case GridParamType::kBool:
      return current == "true" ? "false" : "true";
    case GridParamType::kChoice:
      return current == param.choices[0] ? param.choices[1] : param.choices[0];
    case GridParamType::kDataset:
      return current == "c4" ? "tinystories" : "c4";
    case GridParamType::kIntList:
      return "3,5";
    case GridParamType::kPatternList:
      return "lm_head";
    case GridParamType::kOverrides:  // per-layer precision is part of the key
      return current.empty() ? "layers.0.*:keep" : "";
    case GridParamType::kString:
      return current + "x";
    case GridParamType::kPath:  // "" = the bundled file; both named files have identities
      return current.empty() ? "data/q.jsonl" : current + "x";
  }
  return current;
}

TEST(GridKeysTest, ChangedByEveryResultAffectingField) {
  // A job per method and task, with ppl set up so that stride and field apply.
  const Grid grid = MustParse(R"(
models: [m/x]
methods: [none, rtn, gptq, awq, gsq, smoothquant, fp8, llm_int8, spqr]
tasks:
  - {name: ppl, protocol: rolling, format: jsonl, dataset: data/q.jsonl}
  - boolq
  - gsm8k
  - msmarco
  - {name: mc, dataset: data/q.jsonl}
  - efficiency
)");
  PathIdentities identities = {{"m/x", kModelA},
                               {"data/q.jsonl", std::string(64, 'd')},
                               {"data/q.jsonlx", std::string(64, 'e')}};
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, identities);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 9u * 6);
  std::set<std::string> all_keys;
  int checked = 0;
  for (const v1::JobSpec& job : *jobs) {
    EXPECT_TRUE(all_keys.insert(job.job_key()).second);  // all distinct
    auto expect_changed = [&](const v1::JobSpec& changed, const std::string& what,
                              bool quant_changes) {
      absl::StatusOr<std::string> key = ComputeJobKey(changed, identities);
      ASSERT_TRUE(key.ok()) << key.status() << " " << what;
      EXPECT_NE(*key, job.job_key()) << what;
      EXPECT_EQ(*ComputeQuantKey(changed, identities) != job.quant_key(), quant_changes)
          << what;
      ++checked;
    };
    const GridEntrySchema* method = FindGridMethod(job.method().name());
    for (const GridParamSchema& param : method->params) {
      if (!param.affects_result) continue;  // scan: an expansion directive
      v1::JobSpec changed = job;
      std::string& value = (*changed.mutable_method()->mutable_params())[param.name];
      value = OtherValue(param, value);
      expect_changed(changed, absl::StrCat(method->name, ".", param.name), true);
    }
    const GridEntrySchema* task = FindGridTask(job.task().name());
    for (const GridParamSchema& param : task->params) {
      if (!param.affects_result) continue;
      v1::JobSpec changed = job;
      std::string& value = (*changed.mutable_task()->mutable_params())[param.name];
      value = OtherValue(param, value);
      if (param.name == "context") value = "4096";  // stays above the stride
      expect_changed(changed, absl::StrCat(task->name, ".", param.name), false);
    }
    v1::JobSpec changed = job;
    changed.set_repeat(1);
    expect_changed(changed, "repeat", false);
    changed = job;
    changed.mutable_model()->set_dtype("bfloat16");
    expect_changed(changed, "dtype", true);
    changed = job;
    changed.mutable_model()->set_identity(kModelB);
    expect_changed(changed, "model identity", true);
    if (method->name == "awq" || method->name == "gsq") {
      changed = job;
      changed.mutable_method()->set_name(method->name == "awq" ? "gsq" : "awq");
      expect_changed(changed, "method name", true);
    }
    if (!method->calibrates) continue;
    changed = job;
    changed.mutable_calibration()->set_dataset("wikitext2");
    expect_changed(changed, "calibration.dataset", true);
    changed = job;
    changed.mutable_calibration()->set_samples(7);
    expect_changed(changed, "calibration.samples", true);
    changed = job;
    changed.mutable_calibration()->set_seq_len(7);
    expect_changed(changed, "calibration.seq_len", true);
    changed = job;
    changed.mutable_calibration()->set_seed(7);
    expect_changed(changed, "calibration.seed", true);
    changed = job;
    changed.mutable_calibration()->set_mode("first");
    expect_changed(changed, "calibration.mode", true);
  }
  EXPECT_GT(checked, 300);
}

TEST(GridKeysTest, DatasetFilesEnterByIdentityNotPath) {
  const std::string yaml_a = "models: [m/x]\ntasks: [{name: mc, dataset: a/q.jsonl}]\n";
  const std::string yaml_b = "models: [m/x]\ntasks: [{name: mc, dataset: b/r.jsonl}]\n";
  auto key = [](const std::string& yaml, const std::string& path, const std::string& id) {
    const Grid grid = MustParse(yaml);
    absl::StatusOr<std::vector<v1::JobSpec>> jobs =
        ExpandGrid(grid, {{"m/x", kModelA}, {path, id}});
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? (*jobs)[0].job_key() : "";
  };
  const std::string same(64, '1');
  EXPECT_EQ(key(yaml_a, "a/q.jsonl", same), key(yaml_b, "b/r.jsonl", same));
  EXPECT_NE(key(yaml_a, "a/q.jsonl", same), key(yaml_a, "a/q.jsonl", std::string(64, '2')));
}

TEST(GridKeysTest, QuantKeyIgnoresTaskAndRepeat) {
  EXPECT_EQ(QuantKey("models: [m/x]\nmethods: [gptq]\ntasks: [ppl]\n"),
            QuantKey("models: [m/x]\nmethods: [gptq]\ntasks: [{name: boolq, limit: 3}]\n"));
  EXPECT_NE(QuantKey("models: [m/x]\nmethods: [gptq]\ntasks: [ppl]\n"),
            QuantKey("models: [m/x]\nmethods: [gptq]\ntasks: [ppl]\ncalibration: {seed: 1}\n"));
}

TEST(GridKeysTest, HandBuiltSpecsAreCompletedBeforeHashing) {
  const std::string expanded = Key("models: [m/x]\nmethods: [rtn]\ntasks: [boolq]\n");
  v1::JobSpec job;
  job.mutable_model()->set_identity(kModelA);
  job.mutable_model()->set_dtype("float32");
  job.mutable_method()->set_name("rtn");
  (*job.mutable_method()->mutable_params())["bits"] = "04";
  job.mutable_task()->set_name("boolq");
  EXPECT_EQ(*ComputeJobKey(job, {}), expanded);
  (*job.mutable_method()->mutable_params())["bitz"] = "4";
  EXPECT_EQ(ComputeJobKey(job, {}).status().message(), "rtn has no parameter bitz");
  job.mutable_method()->set_name("hqq");
  EXPECT_FALSE(ComputeJobKey(job, {}).ok());
}

}  // namespace
}  // namespace llmq

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

namespace llmq {
namespace {

// stories260K as llama2.c publishes it: dim 64, 5 layers, 8 heads, 4 kv heads; the
// Hugging Face conversion says the same in config.json.
TEST(ModelBlockCountTest, ReadsLlama2cHeadersAndHuggingFaceConfigs) {
  EXPECT_EQ(*ReadModelBlockCount("assets/models/stories260K"), 5);
  EXPECT_EQ(*ReadModelBlockCount("assets/models/stories260K/stories260K.bin"), 5);
  EXPECT_EQ(*ReadModelBlockCount("assets/models/stories260K-hf"), 5);
  const absl::StatusOr<int> missing = ReadModelBlockCount("assets/models/no-such-model");
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "no-such-model"))
      << missing.status();
}

TEST(ModelBlockCountTest, ABrokenConfigNamesTheFileAndField) {
  const std::string dir = MakeTempDir("blocks");
  ASSERT_TRUE(
      WriteFileAtomically(JoinPath(dir, "config.json"), R"({"num_hidden_layers": "five"})").ok());
  const absl::StatusOr<int> blocks = ReadModelBlockCount(dir);
  ASSERT_FALSE(blocks.ok());
  EXPECT_TRUE(absl::StrContains(blocks.status().message(), "config.json: num_hidden_layers"))
      << blocks.status();
}

}  // namespace
}  // namespace llmq
