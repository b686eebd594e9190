// llama2.c and SentencePiece tokenizers, LoadTokenizerForModel, and bad input, checked
// against llama2.c's published stories260K sample, libsentencepiece and the bundled files.
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<Tokenizer> LoadOrDie(absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer) {
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

std::vector<int32_t> GreedyIdsIncludingBos() {
  return ReadJsonOrDie(JoinPath(kStoriesHfDir, "reference_outputs.json"))
      .at("greedy_ids_including_bos")
      .get<std::vector<int32_t>>();
}

std::string TempPath(const std::string& name) {
  return JoinPath(::testing::TempDir(), name);
}

TEST(Llama2cTokenizerTest, LoadsTok512) {
  auto tokenizer = LoadOrDie(LoadLlama2cTokenizer(kTok512Bin));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 512);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->Describe(), "llama2c tok512.bin");
}

TEST(Llama2cTokenizerTest, GreedySampleDecodesToPublishedTextAndEncodesBack) {
  auto tokenizer = LoadOrDie(LoadLlama2cTokenizer(kTok512Bin));
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<int32_t> ids = GreedyIdsIncludingBos();
  ASSERT_EQ(ids.size(), 81u);
  // llama2.c doc/stories260K.md's first generated ids.
  EXPECT_THAT(std::vector<int32_t>(ids.begin(), ids.begin() + 21),
              ElementsAre(1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395,
                          317, 426, 338, 401, 396, 267, 337));
  const std::string text = tokenizer->Decode(ids);
  EXPECT_THAT(text, StartsWith("Once upon a time, there was a little girl named Lily. She loved "
                               "to play outside in the park. One day, she saw a big, red ball."));
  EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/true), ids);
}

TEST(Llama2cTokenizerTest, EncodesLikeRunC) {
  auto tokenizer = LoadOrDie(LoadLlama2cTokenizer(kTok512Bin));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_TRUE(tokenizer->Encode("", false).empty());
  EXPECT_THAT(tokenizer->Encode("", true), ElementsAre(1));
  // A character in the vocabulary is its piece (485 is "é"); others fall back to their
  // UTF-8 bytes, id = byte + 3 ("中" is E4 B8 AD).
  EXPECT_THAT(tokenizer->Encode("\xC3\xA9", false), ElementsAre(410, 485));  // 410 = " "
  const std::vector<int32_t> ids = tokenizer->Encode("\xE4\xB8\xAD", false);
  EXPECT_THAT(ids, ElementsAre(410, 0xE4 + 3, 0xB8 + 3, 0xAD + 3));
  EXPECT_EQ(tokenizer->Decode(ids), " \xE4\xB8\xAD");
  // The text ends at a NUL byte, as run.c's C string does.
  EXPECT_EQ(tokenizer->Encode(std::string("Hi\0there", 8), true), tokenizer->Encode("Hi", true));
}

TEST(Llama2cTokenizerTest, DecodeSkipsControlTokensAndOutOfRangeIds) {
  auto tokenizer = LoadOrDie(LoadLlama2cTokenizer(kTok512Bin));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Decode({1, 403, 2, -5, 100000}), "Once");
  EXPECT_EQ(tokenizer->Decode({403}), " Once");  // the space goes only after BOS
}

TEST(SentencePieceTokenizerTest, LoadsTok512Model) {
  auto tokenizer = LoadOrDie(LoadSentencePieceTokenizer(kTok512Model));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 512);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  const std::vector<int32_t> ids = GreedyIdsIncludingBos();
  const std::string text = tokenizer->Decode(ids);
  EXPECT_THAT(text, StartsWith("Once upon a time, there was a little girl named Lily."));
  EXPECT_EQ(tokenizer->Encode(text, true), ids);
}

// SentencePiece collapses runs of spaces (remove_extra_whitespaces), llama2.c does not:
// they agree exactly on the paragraphs without double spaces, and on all paragraphs once
// the spaces are collapsed.
TEST(SentencePieceTokenizerTest, AgreesWithLlama2cUpToWhitespaceRuns) {
  auto sentencepiece = LoadOrDie(LoadSentencePieceTokenizer(kTok512Model));
  auto llama2c = LoadOrDie(LoadLlama2cTokenizer(kTok512Bin));
  ASSERT_NE(sentencepiece, nullptr);
  ASSERT_NE(llama2c, nullptr);
  const std::vector<std::string> paragraphs = TinyStoriesParagraphs();
  ASSERT_EQ(paragraphs.size(), 4300u);
  size_t differing = 0, with_double_space = 0, total = 0;
  for (const std::string& paragraph : paragraphs) {
    const bool double_space = paragraph.find("  ") != std::string::npos;
    with_double_space += double_space;
    std::string collapsed = paragraph;
    while (collapsed.find("  ") != std::string::npos) {
      collapsed = absl::StrReplaceAll(collapsed, {{"  ", " "}});
    }
    const std::vector<int32_t> ids = sentencepiece->Encode(paragraph, true);
    total += ids.size();
    EXPECT_EQ(ids, llama2c->Encode(collapsed, true)) << paragraph;
    if (ids != llama2c->Encode(paragraph, true)) {
      ++differing;
      EXPECT_TRUE(double_space) << paragraph;
    }
  }
  EXPECT_EQ(with_double_space, 4u);
  EXPECT_EQ(differing, 4u);
  EXPECT_EQ(total, 384958u);  // 384,962 of llama2.c minus one per collapsed space
}

TEST(LoadTokenizerForModelTest, PrefersTokenizerJson) {
  auto tokenizer = LoadOrDie(LoadTokenizerForModel(kStoriesHfDir));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Describe(), StartsWith("hf-bpe"));
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
}

TEST(LoadTokenizerForModelTest, FallsBackToLlama2cBin) {
  auto tokenizer = LoadOrDie(LoadTokenizerForModel("assets/models/stories260K"));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Describe(), "llama2c tok512.bin");
}

TEST(LoadTokenizerForModelTest, FallsBackToTokenizerModel) {
  const std::string dir = TempPath("sp_only_model");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  absl::StatusOr<std::string> bytes = ReadFile(kTok512Model);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "tokenizer.model"), *bytes).ok());
  auto tokenizer = LoadOrDie(LoadTokenizerForModel(dir));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Describe(), "sentencepiece tokenizer.model");
}

TEST(LoadTokenizerForModelTest, EmptyDirectoryIsNotFoundAndSaysWhatWasLookedFor) {
  const std::string dir = TempPath("empty_model_dir");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(dir);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(dir));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("tokenizer.json"));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("tokenizer.model"));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("tok*.bin"));
}

TEST(TokenizerBadInputTest, MissingFilesAreNotFoundAndNamed) {
  for (auto load : {LoadLlama2cTokenizer, LoadSentencePieceTokenizer}) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = load("no/such/tok.bin");
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(tokenizer.status().message(), HasSubstr("no/such/tok.bin"));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> hf = LoadHfTokenizer("no/such/tokenizer.json", "");
  ASSERT_FALSE(hf.ok());
  EXPECT_EQ(hf.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(hf.status().message(), HasSubstr("no/such/tokenizer.json"));
}

TEST(TokenizerBadInputTest, TruncatedLlama2cFileIsDataLoss) {
  absl::StatusOr<std::string> bytes = ReadFile(kTok512Bin);
  ASSERT_TRUE(bytes.ok());
  // Cut inside a record, at a record boundary, inside the header, and to nothing.
  for (size_t size : {bytes->size() - 3, size_t{4 + 4 + 4 + 5 + 4 + 4 + 6}, size_t{2}, size_t{0}}) {
    const std::string path = TempPath(absl::StrCat("tok_truncated_", size, ".bin"));
    ASSERT_TRUE(WriteFileAtomically(path, bytes->substr(0, size)).ok());
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadLlama2cTokenizer(path);
    ASSERT_FALSE(tokenizer.ok()) << size;
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kDataLoss) << size;
    EXPECT_THAT(tokenizer.status().message(), HasSubstr(path));
  }
}

TEST(TokenizerBadInputTest, GarbageSentencePieceModelIsAnError) {
  const std::string path = TempPath("garbage.model");
  ASSERT_TRUE(WriteFileAtomically(path, "this is not a protobuf \x01\x02\x03").ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadSentencePieceTokenizer(path);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace llmq
