// The tokenizers of the tiny Hugging Face fixture models under tests/fixtures/hf/ (written
// by tests/scripts/make_hf_fixtures.py with transformers / tokenizers), checked against the
// tokenizations recorded in each folder's reference.json. Skipped while no such folder
// exists.
#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

constexpr char kFixtureRoot[] = "tests/fixtures/hf";

// Fixture folders that hold a tokenizer and a reference.json.
std::vector<std::string> FixtureDirs() {
  std::vector<std::string> dirs;
  DIR* handle = ::opendir(kFixtureRoot);
  if (handle == nullptr) return dirs;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string dir = JoinPath(kFixtureRoot, entry->d_name);
    if (entry->d_name[0] != '.' && FileExists(JoinPath(dir, "reference.json")) &&
        FileExists(JoinPath(dir, "tokenizer.json"))) {
      dirs.push_back(dir);
    }
  }
  ::closedir(handle);
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(HfFixtureTokenizerTest, MatchesRecordedTokenizations) {
  const std::vector<std::string> dirs = FixtureDirs();
  if (dirs.empty()) GTEST_SKIP() << "no " << kFixtureRoot << "/*/reference.json";
  for (const std::string& dir : dirs) {
    SCOPED_TRACE(dir);
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(dir);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const nlohmann::json reference = ReadJsonOrDie(JoinPath(dir, "reference.json"));
    const nlohmann::json& special = reference.at("special_ids");
    if (special.contains("bos") && !special.at("bos").is_null()) {
      EXPECT_EQ((*tokenizer)->bos_id(), special.at("bos").get<int32_t>());
    }
    if (special.contains("eos") && !special.at("eos").is_null()) {
      EXPECT_EQ((*tokenizer)->eos_id(), special.at("eos").get<int32_t>());
    }
    size_t cases = 0;
    for (const nlohmann::json& c : reference.at("tokenization")) {
      const std::string text = c.at("text").get<std::string>();
      const std::vector<int32_t> ids = c.at("ids").get<std::vector<int32_t>>();
      EXPECT_EQ((*tokenizer)->Encode(text, true), ids) << text;
      EXPECT_EQ((*tokenizer)->Encode(text, false),
                c.at("ids_no_special").get<std::vector<int32_t>>())
          << text;
      EXPECT_EQ((*tokenizer)->Decode(ids), c.at("decode_skip_special").get<std::string>())
          << text;
      ++cases;
    }
    for (const nlohmann::json& prompt : reference.at("prompts")) {
      EXPECT_EQ((*tokenizer)->Encode(prompt.at("text").get<std::string>(), true),
                prompt.at("ids").get<std::vector<int32_t>>());
      ++cases;
    }
    EXPECT_GT(cases, 0u);
    std::printf("%s: %zu recorded tokenizations\n", dir.c_str(), cases);
  }
}

}  // namespace
}  // namespace llmq
