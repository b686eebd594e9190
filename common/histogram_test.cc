#include "common/histogram.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(HistogramTest, BucketsAreCumulativeAndUpperBoundsInclusive) {
  Histogram histogram({1.0, 5.0, 10.0});
  for (double v : {0.5, 1.0, 1.5, 5.0, 7.0, 11.0, 100.0}) histogram.Observe(v);
  const Histogram::Snapshot s = histogram.Read();
  // <=1: 0.5, 1.0; <=5: +1.5, 5.0; <=10: +7.0; +Inf: +11, 100.
  EXPECT_EQ(s.cumulative, (std::vector<int64_t>{2, 4, 5, 7}));
  EXPECT_EQ(s.count, 7);
  EXPECT_DOUBLE_EQ(s.sum, 0.5 + 1.0 + 1.5 + 5.0 + 7.0 + 11.0 + 100.0);
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1.0, 5.0, 10.0}));
}

TEST(HistogramTest, EmptyHistogramReadsZeros) {
  const Histogram::Snapshot s = Histogram({0.1}).Read();
  EXPECT_EQ(s.cumulative, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.sum, 0);
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram histogram({1.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) histogram.Observe(i % 2 == 0 ? 0.5 : 2.0);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram::Snapshot s = histogram.Read();
  EXPECT_EQ(s.cumulative, (std::vector<int64_t>{2000, 4000}));
  EXPECT_DOUBLE_EQ(s.sum, 2000 * 0.5 + 2000 * 2.0);
}

}  // namespace
}  // namespace llmq
