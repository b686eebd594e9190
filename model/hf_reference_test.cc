// The HF tokenizer against tests/fixtures/tokenizers/hf_references.json: ids recorded with
// Hugging Face's official tokenizers library (tests/scripts/record_tokenizer_references.py)
// for the bundled tokenizer.json files and for Llama-3 / Qwen2 / legacy Llama-2 style
// variants of them, on WikiText-2 lines and hand-written Unicode, whitespace, digit,
// contraction and special-token cases.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

constexpr char kReferences[] = "tests/fixtures/tokenizers/hf_references.json";

// Writes the variant's tokenizer.json and tokenizer_config.json into a temporary folder,
// patched as the recording script did, and returns the folder.
std::string WriteVariant(const std::string& name, const nlohmann::json& variant) {
  const std::string base = variant.at("base").get<std::string>();
  nlohmann::json tokenizer = ReadJsonOrDie(JoinPath(base, "tokenizer.json"));
  if (variant.contains("patch")) {
    for (const auto& [key, value] : variant.at("patch").items()) tokenizer[key] = value;
  }
  if (variant.contains("model_patch")) {
    for (const auto& [key, value] : variant.at("model_patch").items()) {
      tokenizer["model"][key] = value;
    }
  }
  if (variant.contains("append_added_tokens")) {
    for (const nlohmann::json& token : variant.at("append_added_tokens")) {
      tokenizer["added_tokens"].push_back(token);
    }
  }
  if (variant.value("merges_as_pairs", false)) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const nlohmann::json& merge : tokenizer["model"]["merges"]) {
      std::vector<std::string> parts = absl::StrSplit(merge.get<std::string>(), ' ');
      pairs.push_back(parts);
    }
    tokenizer["model"]["merges"] = pairs;
  }
  nlohmann::json config = variant.contains("config")
                              ? variant.at("config")
                              : ReadJsonOrDie(JoinPath(base, "tokenizer_config.json"));
  const std::string dir = JoinPath(::testing::TempDir(), absl::StrCat("hf_variant_", name));
  EXPECT_TRUE(MakeDirectories(dir).ok());
  EXPECT_TRUE(WriteFileAtomically(JoinPath(dir, "tokenizer.json"), tokenizer.dump()).ok());
  EXPECT_TRUE(WriteFileAtomically(JoinPath(dir, "tokenizer_config.json"), config.dump()).ok());
  return dir;
}

class HfTokenizerReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfTokenizerReferenceTest, MatchesOfficialLibrary) {
  const nlohmann::json references = ReadJsonOrDie(kReferences);
  const std::vector<std::string> texts = references.at("texts").get<std::vector<std::string>>();
  const nlohmann::json& variant = references.at("variants").at(GetParam());
  const std::string dir = WriteVariant(GetParam(), variant);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();

  const std::vector<int32_t> prefix = variant.at("special_prefix").get<std::vector<int32_t>>();
  const nlohmann::json& ids_special = variant.at("ids_special");
  const nlohmann::json& decoded = variant.at("decoded");
  ASSERT_EQ(variant.at("ids").size(), texts.size());
  size_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    const std::string key = std::to_string(i);
    const std::vector<int32_t> ids = variant.at("ids").at(i).get<std::vector<int32_t>>();
    tokens += ids.size();
    EXPECT_EQ((*tokenizer)->Encode(text, false), ids) << "text " << i << ": " << text;

    std::vector<int32_t> expected_special = prefix;
    expected_special.insert(expected_special.end(), ids.begin(), ids.end());
    if (ids_special.contains(key)) {
      expected_special = ids_special.at(key).get<std::vector<int32_t>>();
    }
    EXPECT_EQ((*tokenizer)->Encode(text, true), expected_special) << "text " << i;

    const std::string expected_text =
        decoded.contains(key) ? decoded.at(key).get<std::string>() : text;
    EXPECT_EQ((*tokenizer)->Decode(ids), expected_text) << "text " << i;
  }
  std::printf("%s: %zu texts, %zu reference tokens\n", GetParam().c_str(), texts.size(), tokens);
}

INSTANTIATE_TEST_SUITE_P(Variants, HfTokenizerReferenceTest,
                         ::testing::Values("phi2", "phi2_llama3_split", "phi2_qwen2_split",
                                           "phi2_misc_components", "stories",
                                           "stories_metaspace_split",
                                           "stories_legacy_normalizer"));

TEST(HfTokenizerReferenceIdsTest, ConfigTokensResolveThroughAddedTokens) {
  const nlohmann::json references = ReadJsonOrDie(kReferences);
  const std::string llama3 =
      WriteVariant("llama3_ids", references.at("variants").at("phi2_llama3_split"));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(llama3);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->bos_id(), 50295);
  EXPECT_EQ((*tokenizer)->eos_id(), 50256);
  // "lol" (given id 50298) is already vocabulary token 47288, which it keeps, as in HF.
  EXPECT_EQ((*tokenizer)->vocab_size(), 50298);

  const std::string qwen2 = WriteVariant("qwen2_ids", references.at("variants").at("phi2_qwen2_split"));
  tokenizer = LoadTokenizerForModel(qwen2);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->bos_id(), std::nullopt);
  EXPECT_EQ((*tokenizer)->eos_id(), 50296);
}

}  // namespace
}  // namespace llmq
