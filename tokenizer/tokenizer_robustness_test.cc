// Arbitrary bytes, valid UTF-8 or not, never crash a tokenizer; the byte-level and
// byte-fallback tokenizers lose nothing of them.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

// Random strings mixing ASCII, UTF-8 sequences (some cut short) and stray bytes.
std::vector<std::string> RandomTexts(int count) {
  std::mt19937 rng(1234);
  const std::vector<std::string> atoms = {
      "a", "Z", " ", "  ", "\n", "\t", "'s", "9", "\xC3\xA9", "\xE2\x96\x81", "\xE4\xB8\xAD",
      "\xF0\x9F\xA4\x97", "\xC3", "\xE4\xB8", "\x80", "\xFF", "\xED\xA0\x80", "<|endo", "<s",
      "\r\n", "\xC2\xA0", "\xE3\x80\x80"};
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) {
    std::string text;
    const int length = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int k = 0; k < length; ++k) {
      text += atoms[std::uniform_int_distribution<size_t>(0, atoms.size() - 1)(rng)];
    }
    texts.push_back(text);
  }
  return texts;
}

TEST(TokenizerRobustnessTest, Llama2cRoundTripsAnyBytes) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadLlama2cTokenizer(kTok512Bin);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (const std::string& text : RandomTexts(2000)) {
    // Byte fallback keeps every byte; decode drops the dummy-prefix space after BOS.
    EXPECT_EQ((*tokenizer)->Decode((*tokenizer)->Encode(text, true)), text);
  }
}

TEST(TokenizerRobustnessTest, ByteLevelRoundTripsAnyBytesUpToInvalidUtf8) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(kPhi2Dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (const std::string& text : RandomTexts(2000)) {
    // HF's byte-level decoder returns its bytes as lossy UTF-8.
    EXPECT_EQ((*tokenizer)->Decode((*tokenizer)->Encode(text, false)), Utf8Lossy(text));
  }
}

TEST(TokenizerRobustnessTest, NoTokenizerCrashesOnAnyBytes) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> hf = LoadTokenizerForModel(kStoriesHfDir);
  absl::StatusOr<std::unique_ptr<Tokenizer>> sentencepiece =
      LoadSentencePieceTokenizer(kTok512Model);
  ASSERT_TRUE(hf.ok()) << hf.status();
  ASSERT_TRUE(sentencepiece.ok()) << sentencepiece.status();
  const std::vector<const Tokenizer*> tokenizers = {hf->get(), sentencepiece->get()};
  for (const std::string& text : RandomTexts(500)) {
    for (const Tokenizer* tokenizer : tokenizers) {
      const std::vector<int32_t> ids = tokenizer->Encode(text, true);
      for (int32_t id : ids) {
        EXPECT_GE(id, 0);
        EXPECT_LT(id, tokenizer->vocab_size()) << tokenizer->Describe() << " on \"" << text << "\"";
      }
      tokenizer->Decode(ids);
    }
  }
}

TEST(TokenizerRobustnessTest, Utf8LossyReplacesMaximalInvalidPrefixes) {
  // Unicode's "U+FFFD substitution of maximal subparts", as Rust's from_utf8_lossy.
  EXPECT_EQ(Utf8Lossy("a\xE4\xB8z"), "a\xEF\xBF\xBDz");              // one cut-short character
  EXPECT_EQ(Utf8Lossy("\xFF\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");       // two stray bytes
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\xA4\x97"), "\xF0\x9F\xA4\x97");
}

}  // namespace
}  // namespace llmq
