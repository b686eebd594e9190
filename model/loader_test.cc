// Bad model files give a Status naming the file and the problem, never a crash.
#include "model/loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "common/files.h"
#include "common/memory.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace llmq {
namespace {

constexpr char kHfDir[] = "assets/models/stories260K-hf";

// A fresh copy of the HF model directory that a test may break.
class BrokenModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = JoinPath(tmp ? tmp : "/tmp",
                    std::string("llmq_loader_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "' && cp " + kHfDir +
                           "/* '" + dir_ + "/'").c_str()),
              0);
  }
  void Write(const std::string& name, const std::string& contents) {
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, name), contents).ok());
  }
  std::string Read(const std::string& name) { return *ReadFile(JoinPath(dir_, name)); }
  absl::Status Load() { return LoadModelWithoutTokenizer(dir_, LoadOptions{}).status(); }
  std::string dir_;
};

void ExpectErrorMentions(const absl::Status& status, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(status.ok());
  for (const std::string& part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "'" << part << "' not in: " << status.message();
  }
}

TEST_F(BrokenModelTest, IntactCopyLoads) { EXPECT_TRUE(Load().ok()) << Load(); }

TEST_F(BrokenModelTest, TruncatedSafetensors) {
  std::string bytes = Read("model.safetensors");
  Write("model.safetensors", bytes.substr(0, bytes.size() / 2));
  ExpectErrorMentions(Load(), {"model.safetensors", "truncated"});
}

TEST_F(BrokenModelTest, SafetensorsShorterThanItsLength) {
  Write("model.safetensors", "abc");
  ExpectErrorMentions(Load(), {"model.safetensors", "truncated"});
}

TEST_F(BrokenModelTest, HeaderLongerThanFile) {
  std::string bytes = Read("model.safetensors");
  const uint64_t huge = bytes.size() * 4;
  std::memcpy(bytes.data(), &huge, 8);
  Write("model.safetensors", bytes);
  ExpectErrorMentions(Load(), {"model.safetensors", "header length", "longer than the file"});
}

TEST_F(BrokenModelTest, UnknownDtype) {
  std::string bytes = Read("model.safetensors");
  const size_t at = bytes.find("\"F32\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "\"Q99\"");
  Write("model.safetensors", bytes);
  ExpectErrorMentions(Load(), {"model.safetensors", "unknown dtype 'Q99'"});
}

TEST_F(BrokenModelTest, MissingTensor) {
  auto file = SafetensorsFile::Open(JoinPath(dir_, "model.safetensors"));
  ASSERT_TRUE(file.ok());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, entry] : (*file)->entries()) {
    if (name != "model.layers.2.mlp.up_proj.weight") tensors.push_back({name, *(*file)->Get(name)});
  }
  file->reset();
  ASSERT_TRUE(WriteSafetensors(JoinPath(dir_, "model.safetensors"), tensors, {}).ok());
  ExpectErrorMentions(Load(), {dir_, "model.layers.2.mlp.up_proj.weight"});
}

TEST_F(BrokenModelTest, MisShapedTensor) {
  auto file = SafetensorsFile::Open(JoinPath(dir_, "model.safetensors"));
  ASSERT_TRUE(file.ok());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, entry] : (*file)->entries()) {
    at::Tensor t = *(*file)->Get(name);
    if (name == "model.layers.0.self_attn.k_proj.weight") t = at::zeros({64, 64});
    tensors.push_back({name, t.clone()});
  }
  file->reset();
  ASSERT_TRUE(WriteSafetensors(JoinPath(dir_, "model.safetensors"), tensors, {}).ok());
  ExpectErrorMentions(Load(), {"model.layers.0.self_attn.k_proj.weight", "[64, 64]", "[32, 64]"});
}

TEST_F(BrokenModelTest, UnknownArchitecture) {
  std::string config = Read("config.json");
  const size_t at = config.find("\"llama\"");
  config.replace(at, 7, "\"mamba\"");
  Write("config.json", config);
  ExpectErrorMentions(Load(), {"config.json", "model_type", "unknown architecture 'mamba'"});
}

TEST_F(BrokenModelTest, UnreadableConfig) {
  Write("config.json", "{ not json");
  ExpectErrorMentions(Load(), {"config.json", "not valid JSON"});
}

TEST_F(BrokenModelTest, MissingConfigFieldIsNamed) {
  std::string config = Read("config.json");
  const size_t at = config.find("\"hidden_size\"");
  config.replace(at, 13, "\"hidden_sizz\"");
  Write("config.json", config);
  ExpectErrorMentions(Load(), {"config.json", "hidden_size"});
}

TEST_F(BrokenModelTest, MissingTokenizer) {
  ASSERT_EQ(std::system(("rm -f '" + dir_ + "'/tokenizer*").c_str()), 0);
  auto loaded = LoadModel(dir_, LoadOptions{});
  ExpectErrorMentions(loaded.status(), {dir_, "tokenizer"});
}

TEST(LoaderTest, MissingPathIsNotFound) {
  auto loaded = LoadModel("no/such/model", LoadOptions{});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(loaded.status().message().find("no/such/model"), std::string::npos);
}

TEST(LoaderTest, TruncatedLlama2cCheckpoint) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = JoinPath(tmp ? tmp : "/tmp", "llmq_truncated_llama2c.bin");
  std::string bytes = *ReadFile("assets/models/stories260K/stories260K.bin");
  ASSERT_TRUE(WriteFileAtomically(path, bytes.substr(0, 50000)).ok());
  auto weights = ReadLlama2cCheckpoint(path);
  ExpectErrorMentions(weights.status(), {path, "truncated"});
}

TEST(LoaderTest, ModelTokenizerIsTheOneLoadModelLoads) {
  for (const char* path : {"assets/models/stories260K", "assets/models/stories260K/stories260K.bin",
                           kHfDir}) {
    auto loaded = LoadModel(path, LoadOptions{});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto tokenizer = LoadModelTokenizer(path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ((*tokenizer)->Describe(), loaded->tokenizer->Describe()) << path;
    const std::string text = "Once upon a time, Lily's dog   ran\tfar away!";
    EXPECT_EQ((*tokenizer)->Encode(text, true), loaded->tokenizer->Encode(text, true)) << path;
  }
  EXPECT_EQ(LoadModelTokenizer("/nonexistent/model").status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, WriteThenReadRoundTripsEveryDtype) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = JoinPath(tmp ? tmp : "/tmp", "llmq_roundtrip.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({3, 5})},
      {"bf16", at::randn({7}).to(at::kBFloat16)},
      {"f16", at::randn({2, 2}).to(at::kHalf)},
      {"i32", at::arange(10, at::kInt)},
      {"u8", at::arange(9, at::kByte).view({3, 3})}};
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  for (const auto& [name, t] : tensors) {
    auto read = (*file)->Get(name);
    ASSERT_TRUE(read.ok());
    EXPECT_TRUE(read->equal(t)) << name;
  }
}

TEST(SafetensorsTest, PagesOfATensorLeaveRssWhenItsLastTensorGoes) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = JoinPath(tmp ? tmp : "/tmp", "llmq_release.safetensors");
  constexpr int64_t kMiB = 1 << 20;
  // 32 MiB that will be released, between two small tensors that stay.
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"before", at::ones({1000})},
                                {"big", at::ones({8 * kMiB})},
                                {"after", at::ones({1000})}},
                               {})
                  .ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto before = (*file)->Get("before");
  auto after = (*file)->Get("after");
  auto first = (*file)->Get("big");
  auto second = (*file)->Get("big");  // as a loader that looks a name up twice
  ASSERT_TRUE(before.ok() && after.ok() && first.ok() && second.ok());
  const int64_t start = CurrentRssBytes();
  ASSERT_GT(start, 0) << "no /proc/self/status";
  EXPECT_EQ(first->sum().item<double>(), 8.0 * kMiB);  // touches every page
  const int64_t touched = CurrentRssBytes();
  EXPECT_GE(touched, start + 30 * kMiB);

  *first = at::Tensor();
  EXPECT_GE(CurrentRssBytes(), touched - 2 * kMiB) << "released while a tensor still used them";
  EXPECT_EQ(second->sum().item<double>(), 8.0 * kMiB);
  *second = at::Tensor();
  EXPECT_LE(CurrentRssBytes(), touched - 30 * kMiB);
  // The neighbours, and the map, live on.
  EXPECT_EQ(before->sum().item<double>(), 1000.0);
  EXPECT_EQ(after->sum().item<double>(), 1000.0);
}

}  // namespace
}  // namespace llmq
