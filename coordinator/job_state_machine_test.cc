#include "coordinator/job_state_machine.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

const RetryPolicy kPolicy;  // defaults: transient 5 s doubling to 5 min, 3 attempts, 3 deaths

Transition Decide(v1::JobState from, JobEvent event,
                  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED,
                  JobCounters counters = {0, 3, 0}) {
  auto t = DecideTransition(from, event, error_class, counters, kPolicy);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Transition{};
}

bool Allowed(v1::JobState from, JobEvent event) {
  return DecideTransition(from, event, v1::TRANSIENT, {0, 3, 0}, kPolicy).ok();
}

TEST(SchedulerStateMachineTest, HappyPathLeaseStartSucceed) {
  EXPECT_EQ(Decide(v1::PENDING, JobEvent::kLease).next, v1::LEASED);
  EXPECT_EQ(Decide(v1::LEASED, JobEvent::kStart).next, v1::RUNNING);
  EXPECT_EQ(Decide(v1::RUNNING, JobEvent::kStart).next, v1::RUNNING);
  Transition done = Decide(v1::RUNNING, JobEvent::kSucceed);
  EXPECT_EQ(done.next, v1::SUCCEEDED);
  EXPECT_TRUE(done.ends_attempt);
  EXPECT_EQ(Decide(v1::LEASED, JobEvent::kSucceed).next, v1::SUCCEEDED);  // no heartbeat yet
}

TEST(SchedulerStateMachineTest, EventsThatDoNotFitTheStateAreRefused) {
  EXPECT_FALSE(Allowed(v1::LEASED, JobEvent::kLease));
  EXPECT_FALSE(Allowed(v1::PENDING, JobEvent::kStart));
  EXPECT_FALSE(Allowed(v1::PENDING, JobEvent::kSucceed));
  EXPECT_FALSE(Allowed(v1::SUCCEEDED, JobEvent::kSucceed));
  EXPECT_FALSE(Allowed(v1::FAILED, JobEvent::kFail));
  EXPECT_FALSE(Allowed(v1::PENDING, JobEvent::kExpire));
  EXPECT_FALSE(Allowed(v1::SUCCEEDED, JobEvent::kCancel));
  EXPECT_FALSE(Allowed(v1::FAILED, JobEvent::kCancel));
  EXPECT_FALSE(Allowed(v1::RUNNING, JobEvent::kRetry));
  EXPECT_FALSE(Allowed(v1::SUCCEEDED, JobEvent::kRetry));
}

TEST(SchedulerStateMachineTest, TransientFailureIsChargedAndBackedOffExponentially) {
  Transition first = Decide(v1::RUNNING, JobEvent::kFail, v1::TRANSIENT, {0, 5, 0});
  EXPECT_EQ(first.next, v1::PENDING);
  EXPECT_TRUE(first.charged);
  EXPECT_EQ(first.backoff, absl::Seconds(5));
  EXPECT_EQ(Decide(v1::RUNNING, JobEvent::kFail, v1::TRANSIENT, {1, 5, 0}).backoff,
            absl::Seconds(10));
  EXPECT_EQ(Decide(v1::RUNNING, JobEvent::kFail, v1::TRANSIENT, {3, 5, 0}).backoff,
            absl::Seconds(40));
}

TEST(SchedulerStateMachineTest, BackoffIsCappedPerClass) {
  EXPECT_EQ(kPolicy.Delay(v1::TRANSIENT, 30), absl::Minutes(5));
  EXPECT_EQ(kPolicy.Delay(v1::OUT_OF_MEMORY, 1), absl::Seconds(10));
  EXPECT_EQ(kPolicy.Delay(v1::TIMEOUT, 2), absl::Seconds(60));
  EXPECT_EQ(kPolicy.Delay(v1::TIMEOUT, 100), absl::Minutes(10));
  EXPECT_EQ(kPolicy.Delay(v1::PREEMPTED, 4), absl::ZeroDuration());
}

TEST(SchedulerStateMachineTest, LastAllowedAttemptFailsTheJob) {
  Transition t = Decide(v1::RUNNING, JobEvent::kFail, v1::TIMEOUT, {2, 3, 0});
  EXPECT_EQ(t.next, v1::FAILED);
  EXPECT_TRUE(t.charged);
  // max_attempts 0 means the policy's default (3).
  EXPECT_EQ(Decide(v1::RUNNING, JobEvent::kFail, v1::TRANSIENT, {2, 0, 0}).next, v1::FAILED);
  EXPECT_EQ(Decide(v1::RUNNING, JobEvent::kFail, v1::TRANSIENT, {1, 0, 0}).next, v1::PENDING);
}

TEST(SchedulerStateMachineTest, DeterministicFailureFailsFast) {
  Transition t = Decide(v1::RUNNING, JobEvent::kFail, v1::DETERMINISTIC, {0, 10, 0});
  EXPECT_EQ(t.next, v1::FAILED);
  EXPECT_TRUE(t.ends_attempt);
}

TEST(SchedulerStateMachineTest, PreemptionAndReturnAreFree) {
  Transition preempted = Decide(v1::RUNNING, JobEvent::kFail, v1::PREEMPTED, {2, 3, 0});
  EXPECT_EQ(preempted.next, v1::PENDING);
  EXPECT_FALSE(preempted.charged);
  EXPECT_EQ(preempted.backoff, absl::ZeroDuration());
  Transition returned = Decide(v1::RUNNING, JobEvent::kReturn, v1::ERROR_CLASS_UNSPECIFIED,
                               {2, 3, 2});
  EXPECT_EQ(returned.next, v1::PENDING);
  EXPECT_FALSE(returned.charged);
  EXPECT_FALSE(returned.worker_death);
}

TEST(SchedulerStateMachineTest, OutOfMemoryAsksForMoreMemory) {
  Transition t = Decide(v1::RUNNING, JobEvent::kFail, v1::OUT_OF_MEMORY, {0, 3, 0});
  EXPECT_EQ(t.next, v1::PENDING);
  EXPECT_TRUE(t.wants_more_memory);
  EXPECT_EQ(t.backoff, absl::Seconds(10));
}

TEST(SchedulerStateMachineTest, ExpiryCountsADeathAndPoisonsAtTheLimit) {
  Transition first = Decide(v1::RUNNING, JobEvent::kExpire, v1::WORKER_LOST, {0, 3, 0});
  EXPECT_EQ(first.next, v1::PENDING);
  EXPECT_TRUE(first.worker_death);
  EXPECT_FALSE(first.charged);
  EXPECT_EQ(first.backoff, absl::Seconds(5));
  Transition third = Decide(v1::LEASED, JobEvent::kExpire, v1::WORKER_LOST, {0, 3, 2});
  EXPECT_EQ(third.next, v1::FAILED);
  EXPECT_TRUE(third.poisoned);
  // A worker reporting WORKER_LOST itself is treated as an expiry.
  EXPECT_TRUE(Decide(v1::RUNNING, JobEvent::kFail, v1::WORKER_LOST, {0, 3, 2}).poisoned);
}

TEST(SchedulerStateMachineTest, CancelledJobWithOpenLeaseAcceptsItsLastReport) {
  EXPECT_EQ(Decide(v1::CANCELLED, JobEvent::kStart).next, v1::CANCELLED);
  EXPECT_EQ(Decide(v1::CANCELLED, JobEvent::kSucceed).next, v1::SUCCEEDED);
  EXPECT_EQ(Decide(v1::CANCELLED, JobEvent::kFail, v1::TRANSIENT).next, v1::CANCELLED);
  EXPECT_EQ(Decide(v1::CANCELLED, JobEvent::kReturn).next, v1::CANCELLED);
  Transition expired = Decide(v1::CANCELLED, JobEvent::kExpire);
  EXPECT_EQ(expired.next, v1::CANCELLED);
  EXPECT_FALSE(expired.worker_death);
}

TEST(SchedulerStateMachineTest, StatesAllowingCancelAndRetry) {
  EXPECT_EQ(StatesAllowing(JobEvent::kCancel),
            (std::vector<v1::JobState>{v1::PENDING, v1::LEASED, v1::RUNNING}));
  EXPECT_EQ(StatesAllowing(JobEvent::kRetry),
            (std::vector<v1::JobState>{v1::FAILED, v1::CANCELLED}));
  EXPECT_EQ(StatesAllowing(JobEvent::kLease), (std::vector<v1::JobState>{v1::PENDING}));
}

}  // namespace
}  // namespace llmq
