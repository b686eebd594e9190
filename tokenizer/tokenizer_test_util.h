// Shared helpers for the tokenizer tests: reading the bundled assets.
#ifndef LLMQ_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define LLMQ_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace llmq {

constexpr char kTok512Bin[] = "assets/models/stories260K/tok512.bin";
constexpr char kTok512Model[] = "assets/models/stories260K/tok512.model";
constexpr char kStoriesHfDir[] = "assets/models/stories260K-hf";
constexpr char kPhi2Dir[] = "assets/models/phi-2-tokenizer";
constexpr char kTinyStoriesVal[] = "assets/data/tinystories/tinystories_val.txt";

inline nlohmann::json ReadJsonOrDie(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return nlohmann::json();
  return nlohmann::json::parse(*text);
}

// The paragraphs of TinyStories' validation text: split on "\n\n", stripped, non-empty
// (how HF_SOURCES.md counted 384,962 tokens).
inline std::vector<std::string> TinyStoriesParagraphs() {
  absl::StatusOr<std::string> text = ReadFile(kTinyStoriesVal);
  EXPECT_TRUE(text.ok()) << text.status();
  std::vector<std::string> paragraphs;
  if (!text.ok()) return paragraphs;
  for (absl::string_view part : absl::StrSplit(*text, "\n\n")) {
    absl::string_view stripped = absl::StripAsciiWhitespace(part);
    if (!stripped.empty()) paragraphs.emplace_back(stripped);
  }
  return paragraphs;
}

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_TOKENIZER_TEST_UTIL_H_
