#include "coordinator/lease_waitlist.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

// A fake queue: TryLease hands out a lease while `available` > 0.
struct FakeQueue {
  std::atomic<int> available{0};
  std::atomic<int> tries{0};
  LeaseWaitlist::LeaseResult TryLease(const v1::LeaseRequest&) {
    ++tries;
    if (available.fetch_sub(1) <= 0) {
      ++available;
      return std::optional<v1::Lease>();
    }
    v1::Lease lease;
    lease.set_job_id(42);
    return std::make_optional(lease);
  }
};

struct Answer {
  absl::Notification done;
  std::atomic<int> calls{0};
  bool leased = false;
  LeaseWaitlist::Done Callback() {
    return [this](LeaseWaitlist::LeaseResult result) {
      leased = result.ok() && result->has_value();
      ++calls;
      done.Notify();
    };
  }
};

class CoordWaitlistTest : public ::testing::Test {
 protected:
  FakeQueue queue_;
  LeaseWaitlist waitlist_{[this](const v1::LeaseRequest& r) { return queue_.TryLease(r); },
                          absl::Hours(1)};
};

TEST_F(CoordWaitlistTest, WakeHandsNewWorkToTheOldestWaiter) {
  Answer first, second;
  waitlist_.Park(v1::LeaseRequest(), absl::Now() + absl::Minutes(1), first.Callback());
  waitlist_.Park(v1::LeaseRequest(), absl::Now() + absl::Minutes(1), second.Callback());
  queue_.available = 1;
  waitlist_.Wake();
  ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(first.leased);
  EXPECT_FALSE(second.done.HasBeenNotified());
  EXPECT_EQ(waitlist_.parked(), 1u);
}

TEST_F(CoordWaitlistTest, DeadlineAnswersNoJob) {
  Answer answer;
  const absl::Time start = absl::Now();
  waitlist_.Park(v1::LeaseRequest(), start + absl::Milliseconds(200), answer.Callback());
  ASSERT_TRUE(answer.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_FALSE(answer.leased);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
}

TEST_F(CoordWaitlistTest, CancelAndShutdownAnswerExactlyOnce) {
  Answer cancelled, stopped;
  uint64_t id = waitlist_.Park(v1::LeaseRequest(), absl::Now() + absl::Minutes(1),
                               cancelled.Callback());
  waitlist_.Park(v1::LeaseRequest(), absl::Now() + absl::Minutes(1), stopped.Callback());
  waitlist_.Cancel(id);
  waitlist_.Cancel(id);
  EXPECT_EQ(cancelled.calls.load(), 1);
  EXPECT_FALSE(cancelled.leased);
  waitlist_.Shutdown();
  waitlist_.Shutdown();
  EXPECT_EQ(stopped.calls.load(), 1);
  Answer late;
  waitlist_.Park(v1::LeaseRequest(), absl::Now() + absl::Minutes(1), late.Callback());
  EXPECT_EQ(late.calls.load(), 1);  // answered at once after shutdown
}

}  // namespace
}  // namespace llmq
