#include "worker/backoff.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(WorkerBackoffTest, DoublesWithJitterUpToTheCapAndResets) {
  ExponentialBackoff backoff(absl::Milliseconds(100), absl::Milliseconds(1000));
  // Un-jittered delays: 100, 200, 400, 800, 1000, 1000; each drawn from [d/2, d].
  const int64_t expected_ms[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t ms : expected_ms) {
    const absl::Duration delay = backoff.NextDelay();
    EXPECT_GE(delay, absl::Milliseconds(ms) / 2);
    EXPECT_LE(delay, absl::Milliseconds(ms));
  }
  EXPECT_EQ(backoff.failures(), 6);
  backoff.Reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_LE(backoff.NextDelay(), absl::Milliseconds(100));
}

}  // namespace
}  // namespace llmq
