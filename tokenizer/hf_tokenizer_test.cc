// Hugging Face tokenizer.json, checked against ids recorded with HF's own tokenizers
// library (phi-2's expected_ids.json) and against llama2.c's tokenizer, which
// HF_SOURCES.md found to agree with HF on all of TinyStories' validation text.
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<Tokenizer> LoadHfOrDie(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadHfTokenizer(JoinPath(dir, "tokenizer.json"), JoinPath(dir, "tokenizer_config.json"));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

TEST(HfTokenizerTest, Phi2MatchesOfficialLibraryOnAllExpectedCases) {
  auto tokenizer = LoadHfOrDie(kPhi2Dir);
  ASSERT_NE(tokenizer, nullptr);
  const nlohmann::json cases = ReadJsonOrDie(JoinPath(kPhi2Dir, "expected_ids.json")).at("cases");
  ASSERT_EQ(cases.size(), 20u);
  for (const nlohmann::json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    const std::vector<int32_t> expected = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tokenizer->Encode(text, false), expected) << text;
    // phi-2's post-processor is ByteLevel: it adds no special tokens.
    EXPECT_EQ(tokenizer->Encode(text, true), expected) << text;
    // Byte-level BPE is lossless; decoding skips the special <|endoftext|>.
    EXPECT_EQ(tokenizer->Decode(expected), absl::StrReplaceAll(text, {{"<|endoftext|>", ""}}))
        << text;
  }
}

TEST(HfTokenizerTest, Phi2SpecialIdsAndSize) {
  auto tokenizer = LoadHfOrDie(kPhi2Dir);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_id(), 50256);
  EXPECT_EQ(tokenizer->eos_id(), 50256);
  EXPECT_EQ(tokenizer->vocab_size(), 50295);  // 50,257 + 38 whitespace tokens
  EXPECT_EQ(tokenizer->Describe(), "hf-bpe byte-level");
}

TEST(HfTokenizerTest, Phi2LoadsQuickly) {
  const std::clock_t start = std::clock();  // CPU time: the machine may be busy
  auto tokenizer = LoadHfOrDie(kPhi2Dir);
  const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  ASSERT_NE(tokenizer, nullptr);
  std::printf("phi-2 tokenizer.json (2 MB) loaded in %.3f s CPU\n", seconds);
  EXPECT_LT(seconds, 1.0);
}

TEST(HfTokenizerTest, StoriesHfEncodesExactlyLikeLlama2cOnTinyStories) {
  auto hf = LoadHfOrDie(kStoriesHfDir);
  absl::StatusOr<std::unique_ptr<Tokenizer>> llama2c = LoadLlama2cTokenizer(kTok512Bin);
  ASSERT_NE(hf, nullptr);
  ASSERT_TRUE(llama2c.ok()) << llama2c.status();
  const std::vector<std::string> paragraphs = TinyStoriesParagraphs();
  ASSERT_EQ(paragraphs.size(), 4300u);
  size_t total = 0, differing = 0;
  for (const std::string& paragraph : paragraphs) {
    const std::vector<int32_t> ids = hf->Encode(paragraph, true);
    total += ids.size();
    if (ids != (*llama2c)->Encode(paragraph, true)) {
      ++differing;
      ADD_FAILURE() << "HF and llama2.c differ on: " << paragraph;
    }
  }
  EXPECT_EQ(differing, 0u);
  EXPECT_EQ(total, 384962u);  // HF_SOURCES.md
}

TEST(HfTokenizerTest, StoriesHfDecodesGreedySample) {
  auto tokenizer = LoadHfOrDie(kStoriesHfDir);
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<int32_t> ids = ReadJsonOrDie(JoinPath(kStoriesHfDir, "reference_outputs.json"))
                                       .at("greedy_ids_including_bos")
                                       .get<std::vector<int32_t>>();
  const std::string text = tokenizer->Decode(ids);
  EXPECT_THAT(text, StartsWith("Once upon a time, there was a little girl named Lily."));
  EXPECT_EQ(tokenizer->Encode(text, true), ids);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_THAT(tokenizer->Encode("", true), ElementsAre(1));
  EXPECT_TRUE(tokenizer->Encode("", false).empty());
}

// Writes stories260K-hf's tokenizer.json, changed by `patch`, and `config` into a folder.
std::string WriteStoriesVariant(const std::string& name, const nlohmann::json& patch,
                                const std::string& config) {
  nlohmann::json tokenizer = ReadJsonOrDie(JoinPath(kStoriesHfDir, "tokenizer.json"));
  for (const auto& [key, value] : patch.items()) tokenizer[key] = value;
  const std::string dir = JoinPath(::testing::TempDir(), name);
  EXPECT_TRUE(MakeDirectories(dir).ok());
  EXPECT_TRUE(WriteFileAtomically(JoinPath(dir, "tokenizer.json"), tokenizer.dump()).ok());
  EXPECT_TRUE(WriteFileAtomically(JoinPath(dir, "tokenizer_config.json"), config).ok());
  return dir;
}

TEST(HfTokenizerConfigTest, BosAndEosMayBeObjectsWithContent) {
  const std::string dir = WriteStoriesVariant(
      "config_objects", nlohmann::json::object(),
      R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": {"content": "</s>"}})");
  auto tokenizer = LoadHfOrDie(dir);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
}

// Without a template in tokenizer.json, tokenizer_config.json's add_bos_token /
// add_eos_token decide (transformers 4's Llama tokenizers; transformers 5 ignores them).
TEST(HfTokenizerConfigTest, ConfigFlagsApplyWhenThereIsNoTemplate) {
  const nlohmann::json no_template = {{"post_processor", nullptr}};
  auto both = LoadHfOrDie(WriteStoriesVariant(
      "flags_both", no_template,
      R"({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "add_eos_token": true})"));
  auto neither = LoadHfOrDie(WriteStoriesVariant(
      "flags_none", no_template, R"({"bos_token": "<s>", "eos_token": "</s>"})"));
  ASSERT_NE(both, nullptr);
  ASSERT_NE(neither, nullptr);
  const std::vector<int32_t> plain = neither->Encode("Once", false);
  EXPECT_EQ(neither->Encode("Once", true), plain);
  std::vector<int32_t> wrapped = {1};
  wrapped.insert(wrapped.end(), plain.begin(), plain.end());
  wrapped.push_back(2);
  EXPECT_EQ(both->Encode("Once", true), wrapped);
}

TEST(HfTokenizerConfigTest, ConfigThatIsNotJsonIsAnErrorNamingIt) {
  const std::string dir =
      WriteStoriesVariant("config_broken", nlohmann::json::object(), "{ not json");
  const std::string config = JoinPath(dir, "tokenizer_config.json");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadHfTokenizer(JoinPath(dir, "tokenizer.json"), config);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(config));
}

// Bad files: a Status that names the file, never a crash.
class HfTokenizerBadInputTest : public ::testing::Test {
 protected:
  absl::Status LoadWritten(const std::string& name, const std::string& contents) {
    path_ = JoinPath(::testing::TempDir(), name);
    EXPECT_TRUE(WriteFileAtomically(path_, contents).ok());
    return LoadHfTokenizer(path_, "").status();
  }
  std::string path_;
};

TEST_F(HfTokenizerBadInputTest, NotJson) {
  const absl::Status status = LoadWritten("not_json.json", "{\"model\": {\"type\": \"BPE\",");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path_));
}

TEST_F(HfTokenizerBadInputTest, UnsupportedModelType) {
  const absl::Status status = LoadWritten(
      "wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr(path_));
  EXPECT_THAT(status.message(), HasSubstr("WordPiece"));
}

TEST_F(HfTokenizerBadInputTest, WrongFieldTypes) {
  const absl::Status status = LoadWritten(
      "bad_vocab.json", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path_));
}

TEST_F(HfTokenizerBadInputTest, MergeOutsideVocabulary) {
  const absl::Status status = LoadWritten(
      "bad_merge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path_));
  EXPECT_THAT(status.message(), HasSubstr("a b"));
}

TEST_F(HfTokenizerBadInputTest, UnsupportedPreTokenizer) {
  const absl::Status status = LoadWritten(
      "bert_pre.json",
      R"({"pre_tokenizer": {"type": "BertPreTokenizer"},
          "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr(path_));
  EXPECT_THAT(status.message(), HasSubstr("BertPreTokenizer"));
}

TEST_F(HfTokenizerBadInputTest, NotAnObject) {
  const absl::Status status = LoadWritten("array.json", "[1, 2, 3]");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path_));
}

}  // namespace
}  // namespace llmq
