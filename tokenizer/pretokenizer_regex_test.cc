// The RE2 rendering of Hugging Face's split regexes, checked against what Oniguruma's
// backtracking gives for these patterns (worked out by hand in the comments, and confirmed
// with Python's `regex` module, which has lookahead).
#include "tokenizer/pretokenizer_regex.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> Split(const char* pattern, const std::string& text) {
  absl::StatusOr<std::shared_ptr<const PreTokenizerRegex>> regex =
      PreTokenizerRegex::Compile(pattern);
  EXPECT_TRUE(regex.ok()) << regex.status();
  std::vector<std::string> pieces;
  if (!regex.ok()) return pieces;
  for (const auto& [begin, end] : (*regex)->FindAll(text)) {
    pieces.push_back(text.substr(begin, end - begin));
  }
  return pieces;
}

TEST(PreTokenizerRegexTest, WhitespaceBeforeAWordLeavesItsLastSpaceToTheWord) {
  // `\s+(?!\S)` backtracks from "  " to " " (followed by a space, not a non-space).
  EXPECT_THAT(Split(kGpt2SplitPattern, "Hello  world"), ElementsAre("Hello", " ", " world"));
  EXPECT_THAT(Split(kGpt2SplitPattern, "a    b"), ElementsAre("a", "   ", " b"));
  // One space before a non-space: the lookahead fails, the plain `\s+` takes it.
  EXPECT_THAT(Split(kGpt2SplitPattern, "a \tb"), ElementsAre("a", " ", "\t", "b"));
  // At the end nothing follows: the whole run.
  EXPECT_THAT(Split(kGpt2SplitPattern, "a   "), ElementsAre("a", "   "));
}

TEST(PreTokenizerRegexTest, WhitespaceIsUnicodeWhiteSpace) {
  // U+3000 (3 bytes in UTF-8) and vertical tab are `\s` for Oniguruma, not for RE2's `\s`;
  // the character given back is a whole UTF-8 character.
  EXPECT_THAT(Split(kGpt2SplitPattern, "a\u3000\u3000b"),
              ElementsAre("a", "\u3000", "\u3000", "b"));
  EXPECT_THAT(Split(kGpt2SplitPattern, "a\x0b\x0b"
                                       "b"),
              ElementsAre("a", "\x0b", "\x0b", "b"));
}

TEST(PreTokenizerRegexTest, Gpt2ContractionsAreCaseSensitive) {
  EXPECT_THAT(Split(kGpt2SplitPattern, "don't DON'T"), ElementsAre("don", "'t", " DON", "'", "T"));
}

TEST(PreTokenizerRegexTest, Llama3SplitsDigitsInThreesAndFoldsContractions) {
  EXPECT_THAT(Split(kLlama3Pattern, "12345 DON'T"), ElementsAre("123", "45", " DON", "'T"));
  EXPECT_THAT(Split(kQwen2Pattern, "12345"), ElementsAre("1", "2", "3", "4", "5"));
}

TEST(PreTokenizerRegexTest, Llama3NewlinesAndSpaces) {
  // `\s*[\r\n]+` takes "\n\n" (backtracking from "\n\n  "), then the lookahead rule.
  EXPECT_THAT(Split(kLlama3Pattern, "\n\n  x"), ElementsAre("\n\n", " ", " x"));
  // A non-letter before letters joins them: "(x", and punctuation takes trailing newlines.
  EXPECT_THAT(Split(kLlama3Pattern, "(x) ...\n\ny"), ElementsAre("(x", ")", " ...\n\n", "y"));
}

TEST(PreTokenizerRegexTest, TranslationRefusesOtherLookarounds) {
  bool lookahead;
  EXPECT_EQ(PreTokenizerRegex::TranslateToRe2("a(?=b)", &lookahead).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(PreTokenizerRegex::TranslateToRe2(R"(\s+(?!\S))", &lookahead).status().code(),
            absl::StatusCode::kUnimplemented);  // only with the `|\s+` that completes it
  absl::StatusOr<std::shared_ptr<const PreTokenizerRegex>> bad = PreTokenizerRegex::Compile("(");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("RE2"));
}

TEST(PreTokenizerRegexTest, TranslatesClassShorthands) {
  bool lookahead;
  absl::StatusOr<std::string> translated =
      PreTokenizerRegex::TranslateToRe2(R"([^\s\d]\w+)", &lookahead);
  ASSERT_TRUE(translated.ok());
  EXPECT_FALSE(lookahead);
  EXPECT_THAT(*translated, HasSubstr(R"(\x{3000})"));
  EXPECT_THAT(*translated, HasSubstr(R"(\p{Nd})"));
  EXPECT_THAT(*translated, HasSubstr(R"([\p{L}\p{M}\p{Nd}\p{Pc}]+)"));
}

}  // namespace
}  // namespace llmq
