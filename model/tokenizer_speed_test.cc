// Throughput and thread safety: all of TinyStories' validation text (794 KB) in one call per
// tokenizer, and one tokenizer shared by several threads.
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/tokenizer_test_util.h"

namespace llmq {
namespace {

// Generous against a loaded machine; the numbers printed are what to look at.
constexpr double kMaxSeconds = 2.0;

// Process CPU seconds: what the work costs, however busy the machine is.
template <typename Fn>
double CpuSeconds(Fn fn) {
  const std::clock_t start = std::clock();
  fn();
  return static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

TEST(TokenizerSpeedTest, EncodesAllOfTinyStoriesInOneCall) {
  absl::StatusOr<std::string> text = ReadFile(kTinyStoriesVal);
  ASSERT_TRUE(text.ok()) << text.status();
  struct Case {
    const char* name;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer;
  };
  std::vector<Case> cases;
  cases.push_back({"llama2c tok512.bin", LoadLlama2cTokenizer(kTok512Bin)});
  cases.push_back({"sentencepiece tok512.model", LoadSentencePieceTokenizer(kTok512Model)});
  cases.push_back({"hf stories260K (metaspace)", LoadTokenizerForModel(kStoriesHfDir)});
  cases.push_back({"hf phi-2 (byte-level)", LoadTokenizerForModel(kPhi2Dir)});
  for (Case& c : cases) {
    ASSERT_TRUE(c.tokenizer.ok()) << c.tokenizer.status();
    std::vector<int32_t> ids;
    const double seconds = CpuSeconds([&] { ids = (*c.tokenizer)->Encode(*text, true); });
    std::printf("%-28s %zu bytes -> %zu tokens in %.3f s CPU\n", c.name, text->size(), ids.size(),
                seconds);
    EXPECT_LT(seconds, kMaxSeconds) << c.name;
    EXPECT_GT(ids.size(), text->size() / 8) << c.name;
  }
}

TEST(TokenizerSpeedTest, SharedTokenizerGivesTheSameIdsOnSeveralThreads) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerForModel(kPhi2Dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<std::string> paragraphs = TinyStoriesParagraphs();
  paragraphs.resize(800);
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& p : paragraphs) expected.push_back((*tokenizer)->Encode(p, false));
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the paragraphs from a different start, so the word cache is
      // filled and read concurrently.
      for (size_t k = 0; k < paragraphs.size(); ++k) {
        const size_t i = (k + t * paragraphs.size() / kThreads) % paragraphs.size();
        if ((*tokenizer)->Encode(paragraphs[i], false) != expected[i]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace llmq
