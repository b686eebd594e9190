// Scheduler: what happens when attempts end badly — expiry, retries by error class,
// poisoning — and what users do about it: cancel, retry, resubmit.
#include "common/status.h"
#include "coordinator/scheduler_test_fixture.h"

namespace llmq {
namespace {

// ---- expiry, retries, poisoning

TEST_F(SchedulerTest, ExpiredLeaseReturnsTheJobAfterABackoff) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kPending);
  EXPECT_FALSE(Lease(w).has_value());  // WORKER_LOST backoff: 5 s
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(Lease(w).has_value());
}

TEST_F(SchedulerTest, TransientFailuresBackOffExponentiallyThenFail) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::RECORDED);
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kPending);
  EXPECT_EQ(Job(lease->job_id()).error, "boom");
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(Lease(w).has_value());
  clock_.Advance(absl::Seconds(1));  // 5 s
  lease = Lease(w);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::RECORDED);
  clock_.Advance(absl::Seconds(9));
  EXPECT_FALSE(Lease(w).has_value());
  clock_.Advance(absl::Seconds(1));  // 10 s
  lease = Lease(w);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->attempt(), 3);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::RECORDED);
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, JobState::kFailed);  // max_attempts = 3
  EXPECT_EQ(job.failures, 3);
  EXPECT_EQ(job.error_class, ErrorClass::kTransient);
}

TEST_F(SchedulerTest, DeterministicFailureIsNotRetried) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a", 0, "any", 0, "", 10})});
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::DETERMINISTIC), v1::RECORDED);
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kFailed);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(Lease(w).has_value());
}

TEST_F(SchedulerTest, PreemptionAndReturnDoNotCountAgainstAttempts) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a", 0, "any", 0, "", 1})});
  for (int i = 0; i < 4; ++i) {
    auto lease = Lease(w);
    ASSERT_TRUE(lease.has_value()) << i;
    EXPECT_EQ(Report(*lease, w, i % 2 ? v1::REPORT_RETURNED : v1::REPORT_FAILED,
                     i % 2 ? v1::ERROR_CLASS_UNSPECIFIED : v1::PREEMPTED),
              v1::RECORDED);
    EXPECT_EQ(Job(lease->job_id()).state, JobState::kPending);
    EXPECT_EQ(Job(lease->job_id()).failures, 0);
  }
}

TEST_F(SchedulerTest, OutOfMemoryPrefersAWorkerWithMoreFreeMemory) {
  std::string small = Register("small", {"cuda:0"}, 8 * kGiB);
  std::string big = Register("big", {"cuda:0"}, 80 * kGiB);
  Submit({MakeSpec({"a"})});
  auto lease = Lease(small, 6 * kGiB);
  EXPECT_EQ(Report(*lease, small, v1::REPORT_FAILED, v1::OUT_OF_MEMORY), v1::RECORDED);
  clock_.Advance(absl::Seconds(11));  // past the OOM backoff
  EXPECT_FALSE(Lease(small, 6 * kGiB).has_value());
  auto retry = Lease(big, 70 * kGiB);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->attempt(), 2);
  // Had no bigger worker come, the small one gets it back after the preference window.
  EXPECT_EQ(Report(*retry, big, v1::REPORT_FAILED, v1::OUT_OF_MEMORY), v1::RECORDED);
  clock_.Advance(absl::Seconds(21));
  EXPECT_FALSE(Lease(small, 6 * kGiB).has_value());
  clock_.Advance(options_.oom_preference);
  EXPECT_TRUE(Lease(small, 6 * kGiB).has_value());
}

TEST_F(SchedulerTest, JobThatKillsThreeWorkersIsPoisoned) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a", 0, "any", 0, "", 100})});
  int64_t job_id = 0;
  for (int death = 1; death <= 3; ++death) {
    clock_.Advance(absl::Minutes(5));  // past any backoff
    auto lease = Lease(w);
    ASSERT_TRUE(lease.has_value()) << death;
    job_id = lease->job_id();
    clock_.Advance(absl::Seconds(61));
    EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  }
  JobRecord job = Job(job_id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.worker_deaths, 3);
  EXPECT_EQ(job.error_class, ErrorClass::kWorkerLost);
  EXPECT_NE(job.error.find("poisoned"), std::string::npos);
}

// ---- cancel and retry

TEST_F(SchedulerTest, CancelStopsPendingJobsAndTellsRunningOnes) {
  std::string w = Register("node1");
  int64_t sweep = Submit({MakeSpec({"a", 1}), MakeSpec({"b"})});
  auto running = Lease(w);
  EXPECT_EQ(*scheduler_->CancelSweep(sweep), 2);
  EXPECT_FALSE(Lease(w).has_value());
  v1::HeartbeatResponse beat = Heartbeat(*running, w);
  EXPECT_TRUE(beat.lease_valid());
  EXPECT_TRUE(beat.cancel());
  EXPECT_EQ(Report(*running, w, v1::REPORT_FAILED, v1::PREEMPTED), v1::RECORDED);
  EXPECT_EQ(Job(running->job_id()).state, JobState::kCancelled);
  EXPECT_EQ(scheduler_->CancelSweep(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, RetryRequeuesFailedAndCancelledJobs) {
  std::string w = Register("node1");
  int64_t sweep = Submit({MakeSpec({"a"}), MakeSpec({"b"})});
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::DETERMINISTIC), v1::RECORDED);
  EXPECT_EQ(*scheduler_->CancelSweep(sweep), 1);
  EXPECT_EQ(*scheduler_->RetryJobs(sweep, {lease->job_id()}), 1);
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(*scheduler_->RetryJobs(sweep, {}), 1);  // the cancelled one
  EXPECT_EQ(*scheduler_->RetryJobs(sweep, {}), 0);
}

TEST_F(SchedulerTest, ResubmittingAGridRedoesNothingButItsFailures) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"}), MakeSpec({"b"}), MakeSpec({"c"})});
  auto a = Lease(w);
  EXPECT_EQ(Report(*a, w), v1::RECORDED);
  auto b = Lease(w);
  EXPECT_EQ(Report(*b, w, v1::REPORT_FAILED, v1::DETERMINISTIC), v1::RECORDED);
  v1::SubmitSweepResponse again;
  Submit({MakeSpec({"a"}), MakeSpec({"b"}), MakeSpec({"c"}), MakeSpec({"d"})}, &again);
  EXPECT_EQ(again.jobs_total(), 4);
  EXPECT_EQ(again.jobs_already_done(), 1);  // a
  EXPECT_EQ(again.jobs_new(), 2);           // b requeued, d inserted
  EXPECT_EQ(again.jobs_in_progress(), 1);   // c
  EXPECT_EQ(Job(b->job_id()).state, JobState::kPending);
}

TEST_F(SchedulerTest, DryRunCountsWithoutWriting) {
  Submit({MakeSpec({"a"})});
  SweepSubmission submission;
  submission.name = "dry";
  submission.jobs = JobsFrom({MakeSpec({"a"}), MakeSpec({"z"})});
  submission.dry_run = true;
  auto response = scheduler_->Submit(submission);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->jobs_new(), 1);
  EXPECT_EQ(response->jobs_in_progress(), 1);
  EXPECT_EQ(response->sweep_id(), 0);
}

TEST_F(SchedulerTest, AnErrorFromTheJobSourceRollsTheWholeSweepBack) {
  // A grid's source reports a filter that matches nothing only after its last job, by which
  // time the jobs are in the transaction.
  SweepSubmission submission;
  submission.name = "late-error";
  submission.jobs = [](JobSink sink) -> absl::StatusOr<int64_t> {
    for (const char* key : {"a", "b", "c"}) LLMQ_RETURN_IF_ERROR(sink(MakeSpec({key})));
    return absl::InvalidArgumentError("grid.yaml:9:5: exclude: this entry matches no job");
  };
  auto response = scheduler_->Submit(submission);
  EXPECT_EQ(response.status(),
            absl::InvalidArgumentError("grid.yaml:9:5: exclude: this entry matches no job"));
  EXPECT_TRUE(store_
                  ->Read([](ReadTxn& txn) -> absl::Status {
                    LLMQ_ASSIGN_OR_RETURN(auto sweeps, txn.ListSweeps());
                    EXPECT_TRUE(sweeps.empty());
                    LLMQ_ASSIGN_OR_RETURN(auto jobs, txn.ListJobs({}));
                    EXPECT_TRUE(jobs.empty());
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace llmq
