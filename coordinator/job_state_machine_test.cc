#include "coordinator/job_state_machine.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

const RetryPolicy kPolicy;  // defaults: transient 5 s doubling to 5 min, 3 attempts, 3 deaths

Transition Decide(JobState from, JobEvent event, ErrorClass error_class = ErrorClass::kUnspecified,
                  JobCounters counters = {0, 3, 0}) {
  auto t = DecideTransition(from, event, error_class, counters, kPolicy);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Transition{};
}

bool Allowed(JobState from, JobEvent event) {
  return DecideTransition(from, event, ErrorClass::kTransient, {0, 3, 0}, kPolicy).ok();
}

TEST(SchedulerStateMachineTest, HappyPathLeaseStartSucceed) {
  EXPECT_EQ(Decide(JobState::kPending, JobEvent::kLease).next, JobState::kLeased);
  EXPECT_EQ(Decide(JobState::kLeased, JobEvent::kStart).next, JobState::kRunning);
  EXPECT_EQ(Decide(JobState::kRunning, JobEvent::kStart).next, JobState::kRunning);
  Transition done = Decide(JobState::kRunning, JobEvent::kSucceed);
  EXPECT_EQ(done.next, JobState::kSucceeded);
  EXPECT_TRUE(done.ends_attempt);
  EXPECT_EQ(Decide(JobState::kLeased, JobEvent::kSucceed).next,
            JobState::kSucceeded);  // no heartbeat yet
}

TEST(SchedulerStateMachineTest, EventsThatDoNotFitTheStateAreRefused) {
  EXPECT_FALSE(Allowed(JobState::kLeased, JobEvent::kLease));
  EXPECT_FALSE(Allowed(JobState::kPending, JobEvent::kStart));
  EXPECT_FALSE(Allowed(JobState::kPending, JobEvent::kSucceed));
  EXPECT_FALSE(Allowed(JobState::kSucceeded, JobEvent::kSucceed));
  EXPECT_FALSE(Allowed(JobState::kFailed, JobEvent::kFail));
  EXPECT_FALSE(Allowed(JobState::kPending, JobEvent::kExpire));
  EXPECT_FALSE(Allowed(JobState::kSucceeded, JobEvent::kCancel));
  EXPECT_FALSE(Allowed(JobState::kFailed, JobEvent::kCancel));
  EXPECT_FALSE(Allowed(JobState::kRunning, JobEvent::kRetry));
  EXPECT_FALSE(Allowed(JobState::kSucceeded, JobEvent::kRetry));
}

TEST(SchedulerStateMachineTest, TransientFailureIsChargedAndBackedOffExponentially) {
  Transition first = Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTransient, {0, 5, 0});
  EXPECT_EQ(first.next, JobState::kPending);
  EXPECT_TRUE(first.charged);
  EXPECT_EQ(first.backoff, absl::Seconds(5));
  EXPECT_EQ(Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTransient, {1, 5, 0}).backoff,
            absl::Seconds(10));
  EXPECT_EQ(Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTransient, {3, 5, 0}).backoff,
            absl::Seconds(40));
}

TEST(SchedulerStateMachineTest, BackoffIsCappedPerClass) {
  EXPECT_EQ(kPolicy.Delay(ErrorClass::kTransient, 30), absl::Minutes(5));
  EXPECT_EQ(kPolicy.Delay(ErrorClass::kOutOfMemory, 1), absl::Seconds(10));
  EXPECT_EQ(kPolicy.Delay(ErrorClass::kTimeout, 2), absl::Seconds(60));
  EXPECT_EQ(kPolicy.Delay(ErrorClass::kTimeout, 100), absl::Minutes(10));
  EXPECT_EQ(kPolicy.Delay(ErrorClass::kPreempted, 4), absl::ZeroDuration());
}

TEST(SchedulerStateMachineTest, LastAllowedAttemptFailsTheJob) {
  Transition t = Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTimeout, {2, 3, 0});
  EXPECT_EQ(t.next, JobState::kFailed);
  EXPECT_TRUE(t.charged);
  // max_attempts 0 means the policy's default (3).
  EXPECT_EQ(Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTransient, {2, 0, 0}).next,
            JobState::kFailed);
  EXPECT_EQ(Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kTransient, {1, 0, 0}).next,
            JobState::kPending);
}

TEST(SchedulerStateMachineTest, DeterministicFailureFailsFast) {
  Transition t =
      Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kDeterministic, {0, 10, 0});
  EXPECT_EQ(t.next, JobState::kFailed);
  EXPECT_TRUE(t.ends_attempt);
}

TEST(SchedulerStateMachineTest, PreemptionAndReturnAreFree) {
  Transition preempted =
      Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kPreempted, {2, 3, 0});
  EXPECT_EQ(preempted.next, JobState::kPending);
  EXPECT_FALSE(preempted.charged);
  EXPECT_EQ(preempted.backoff, absl::ZeroDuration());
  Transition returned =
      Decide(JobState::kRunning, JobEvent::kReturn, ErrorClass::kUnspecified, {2, 3, 2});
  EXPECT_EQ(returned.next, JobState::kPending);
  EXPECT_FALSE(returned.charged);
  EXPECT_FALSE(returned.worker_death);
}

TEST(SchedulerStateMachineTest, OutOfMemoryAsksForMoreMemory) {
  Transition t = Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kOutOfMemory, {0, 3, 0});
  EXPECT_EQ(t.next, JobState::kPending);
  EXPECT_TRUE(t.wants_more_memory);
  EXPECT_EQ(t.backoff, absl::Seconds(10));
}

TEST(SchedulerStateMachineTest, ExpiryCountsADeathAndPoisonsAtTheLimit) {
  Transition first =
      Decide(JobState::kRunning, JobEvent::kExpire, ErrorClass::kWorkerLost, {0, 3, 0});
  EXPECT_EQ(first.next, JobState::kPending);
  EXPECT_TRUE(first.worker_death);
  EXPECT_FALSE(first.charged);
  EXPECT_EQ(first.backoff, absl::Seconds(5));
  Transition third =
      Decide(JobState::kLeased, JobEvent::kExpire, ErrorClass::kWorkerLost, {0, 3, 2});
  EXPECT_EQ(third.next, JobState::kFailed);
  EXPECT_TRUE(third.poisoned);
  // A worker reporting WORKER_LOST itself is treated as an expiry.
  EXPECT_TRUE(
      Decide(JobState::kRunning, JobEvent::kFail, ErrorClass::kWorkerLost, {0, 3, 2}).poisoned);
}

TEST(SchedulerStateMachineTest, CancelledJobWithOpenLeaseAcceptsItsLastReport) {
  EXPECT_EQ(Decide(JobState::kCancelled, JobEvent::kStart).next, JobState::kCancelled);
  EXPECT_EQ(Decide(JobState::kCancelled, JobEvent::kSucceed).next, JobState::kSucceeded);
  EXPECT_EQ(Decide(JobState::kCancelled, JobEvent::kFail, ErrorClass::kTransient).next,
            JobState::kCancelled);
  EXPECT_EQ(Decide(JobState::kCancelled, JobEvent::kReturn).next, JobState::kCancelled);
  Transition expired = Decide(JobState::kCancelled, JobEvent::kExpire);
  EXPECT_EQ(expired.next, JobState::kCancelled);
  EXPECT_FALSE(expired.worker_death);
}

TEST(SchedulerStateMachineTest, StatesAllowingCancelAndRetry) {
  EXPECT_EQ(StatesAllowing(JobEvent::kCancel),
            (std::vector<JobState>{JobState::kPending, JobState::kLeased, JobState::kRunning}));
  EXPECT_EQ(StatesAllowing(JobEvent::kRetry),
            (std::vector<JobState>{JobState::kFailed, JobState::kCancelled}));
  EXPECT_EQ(StatesAllowing(JobEvent::kLease), (std::vector<JobState>{JobState::kPending}));
}

}  // namespace
}  // namespace llmq
