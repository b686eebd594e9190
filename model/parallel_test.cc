// ParallelFor: every index once, chunks of at least the grain, several threads really at
// work, nesting, exceptions and concurrent callers.
#include "model/parallel.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace llmq {
namespace {

// Sets libtorch's (and so ParallelFor's) thread count for one test.
class ThreadsScope {
 public:
  explicit ThreadsScope(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadsScope() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

TEST(ParallelForTest, CoversEveryIndexOnceInChunksOfAtLeastTheGrain) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadsScope scope(threads);
    ASSERT_EQ(ParallelThreads(), threads);
    for (int64_t begin : {0, 5}) {
      for (int64_t range : {0, 1, 2, 7, 64, 1000}) {
        for (int64_t grain : {0, 1, 3, 64, 2000}) {
          std::vector<std::atomic<int>> hits(range);
          std::mutex mu;
          std::vector<std::pair<int64_t, int64_t>> chunks;
          ParallelFor(begin, begin + range, grain, [&](int64_t b, int64_t e) {
            {
              std::lock_guard<std::mutex> lock(mu);
              chunks.emplace_back(b, e);
            }
            for (int64_t i = b; i < e; ++i) hits[i - begin].fetch_add(1);
          });
          for (int64_t i = 0; i < range; ++i) {
            ASSERT_EQ(hits[i].load(), 1) << "index " << i << " range " << range << " grain " << grain;
          }
          ASSERT_LE(static_cast<int64_t>(chunks.size()), threads);
          for (const auto& [b, e] : chunks) {
            ASSERT_LT(b, e);
            if (e != begin + range) {
              EXPECT_GE(e - b, grain) << "chunk [" << b << ", " << e << ")";
            }
          }
        }
      }
    }
  }
}

TEST(ParallelForTest, RunsChunksOnSeveralThreads) {
  ThreadsScope scope(2);
  // Each chunk waits until two threads are inside: passes only if a worker takes a chunk
  // while the caller runs another (the caller alone would wait out the deadline).
  std::atomic<int> inside{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  bool met = true;
  ParallelFor(0, 2, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    inside.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (inside.load() < 2) {
      if (std::chrono::steady_clock::now() > deadline) {
        met = false;
        break;
      }
      std::this_thread::yield();
    }
  });
  EXPECT_TRUE(met) << "the second chunk never ran beside the first";
  EXPECT_EQ(ids.size(), 2u);
}

TEST(ParallelForTest, NestedCallsRunOnTheCallingThread) {
  ThreadsScope scope(2);
  std::atomic<int> total{0};
  std::atomic<bool> same_thread{true};
  ParallelFor(0, 4, 1, [&](int64_t b, int64_t e) {
    const std::thread::id outer = std::this_thread::get_id();
    for (int64_t i = b; i < e; ++i) {
      ParallelFor(0, 100, 1, [&](int64_t ib, int64_t ie) {
        if (std::this_thread::get_id() != outer) same_thread = false;
        total.fetch_add(static_cast<int>(ie - ib));
      });
    }
  });
  EXPECT_EQ(total.load(), 400);
  EXPECT_TRUE(same_thread.load());
}

TEST(ParallelForTest, RethrowsAChunksExceptionAndStaysUsable) {
  ThreadsScope scope(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(ParallelFor(0, 100, 1,
                           [&](int64_t b, int64_t) {
                             ran.fetch_add(1);
                             if (b == 0) throw std::runtime_error("chunk 0");
                           }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 2);  // the other chunk still ran
  int64_t sum = 0;
  std::mutex mu;
  ParallelFor(0, 1000, 1, [&](int64_t b, int64_t e) {
    int64_t s = 0;
    for (int64_t i = b; i < e; ++i) s += i;
    std::lock_guard<std::mutex> lock(mu);
    sum += s;
  });
  EXPECT_EQ(sum, 999 * 1000 / 2);
}

TEST(ParallelForTest, ConcurrentCallersEachGetTheirWholeRange) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&failures] {
      at::set_num_threads(2);  // libtorch's count is per thread in its OpenMP builds
      for (int round = 0; round < 200; ++round) {
        std::vector<int> hits(257, 0);
        ParallelFor(0, 257, 8, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[i];
        });
        for (int h : hits) {
          if (h != 1) failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace llmq
