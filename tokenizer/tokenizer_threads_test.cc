// Thread safety: one tokenizer shared by several threads gives the same ids as one thread.
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace llmq {
namespace {

TEST(TokenizerThreadsTest, SharedTokenizerGivesTheSameIdsOnSeveralThreads) {
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
