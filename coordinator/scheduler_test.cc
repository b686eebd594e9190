#include "coordinator/scheduler.h"

#include "common/version.h"
#include "coordinator/test_util.h"
#include "gtest/gtest.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshDbPath("sched");
    Start();
  }

  // (Re)starts store and scheduler on the same file, as a restarted coordinator would.
  void Start() {
    scheduler_.reset();
    store_.reset();
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    auto scheduler = Scheduler::Create(store_.get(), &clock_, options_);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status();
    scheduler_ = std::move(scheduler).value();
  }

  std::string Register(const std::string& host, std::vector<std::string> devices = {"cpu"},
                       int64_t memory = 16 * kGiB) {
    v1::RegisterRequest request;
    request.set_host(host);
    for (const auto& d : devices) request.add_devices(d);
    request.set_memory_bytes(memory);
    request.set_protocol_version(kProtocolVersion);
    auto response = scheduler_->Register(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response->worker_id();
  }

  int64_t Submit(const std::vector<v1::JobSpec>& specs, v1::SubmitSweepResponse* out = nullptr) {
    SweepSubmission submission;
    submission.name = "test-sweep";
    submission.jobs = specs;
    auto response = scheduler_->Submit(submission);
    EXPECT_TRUE(response.ok()) << response.status();
    if (out != nullptr) *out = *response;
    return response->sweep_id();
  }

  std::optional<v1::Lease> Lease(const std::string& worker, int64_t free_memory = 0,
                                 std::vector<std::string> cached = {}) {
    v1::LeaseRequest request;
    request.set_worker_id(worker);
    request.set_free_memory_bytes(free_memory);
    for (const auto& key : cached) request.add_cached_quant_keys(key);
    auto lease = scheduler_->Lease(request);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : std::nullopt;
  }

  v1::ReportRequest ReportFor(const v1::Lease& lease, const std::string& worker,
                              v1::ReportOutcome outcome = v1::REPORT_SUCCEEDED,
                              v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED) {
    v1::ReportRequest request;
    request.set_worker_id(worker);
    request.set_lease_id(lease.lease_id());
    request.set_job_id(lease.job_id());
    request.set_attempt(lease.attempt());
    request.set_outcome(outcome);
    request.set_error_class(error_class);
    if (outcome == v1::REPORT_SUCCEEDED) *request.mutable_result() = MakeResult(3.5);
    if (outcome == v1::REPORT_FAILED) request.set_error("boom");
    return request;
  }

  v1::ReportStatus Report(const v1::ReportRequest& request) {
    auto status = scheduler_->Report(request);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : v1::REPORT_STATUS_UNSPECIFIED;
  }

  v1::ReportStatus Report(const v1::Lease& lease, const std::string& worker,
                          v1::ReportOutcome outcome = v1::REPORT_SUCCEEDED,
                          v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED) {
    return Report(ReportFor(lease, worker, outcome, error_class));
  }

  v1::HeartbeatResponse Heartbeat(const v1::Lease& lease, const std::string& worker,
                                  const std::string& stage = "quantize") {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker);
    request.set_lease_id(lease.lease_id());
    request.set_job_id(lease.job_id());
    request.set_attempt(lease.attempt());
    request.mutable_progress()->set_stage(stage);
    auto response = scheduler_->Heartbeat(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::HeartbeatResponse();
  }

  JobRecord Job(int64_t job_id) {
    JobRecord job;
    EXPECT_TRUE(store_
                    ->Write([&](WriteTxn& txn) -> absl::Status {
                      auto found = txn.GetJob(job_id);
                      if (found.ok() && found->has_value()) job = **found;
                      return found.status();
                    })
                    .ok());
    return job;
  }

  std::string path_;
  FakeClock clock_;
  SchedulerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
};

// ---- the happy path and every transition on it

TEST_F(SchedulerTest, JobGoesPendingLeasedRunningSucceeded) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->attempt(), 1);
  EXPECT_EQ(lease->ttl_seconds(), 60);
  EXPECT_EQ(lease->spec().job_key(), "a");
  EXPECT_EQ(Job(lease->job_id()).state, v1::LEASED);

  v1::HeartbeatResponse beat = Heartbeat(*lease, w);
  EXPECT_TRUE(beat.lease_valid());
  EXPECT_FALSE(beat.cancel());
  EXPECT_EQ(Job(lease->job_id()).state, v1::RUNNING);

  EXPECT_EQ(Report(*lease, w), v1::RECORDED);
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, v1::SUCCEEDED);
  EXPECT_FALSE(job.has_open_lease());
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto rows = txn.QueryResults(v1::QueryResultsRequest());
                    EXPECT_EQ(rows->size(), 1u);
                    const auto& provenance = (*rows)[0].result().provenance();
                    EXPECT_EQ(provenance.at("host"), "test-host");
                    EXPECT_EQ(provenance.at("coordinator_version"), kLlmqVersion);
                    EXPECT_EQ(provenance.at("attempt"), "1");
                    EXPECT_EQ(provenance.at("job_key"), "a");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_FALSE(Lease(w).has_value());
}

TEST_F(SchedulerTest, RegisterRefusesAnotherProtocolAndLeaseNeedsRegistration) {
  v1::RegisterRequest request;
  request.set_host("old");
  request.set_protocol_version(kProtocolVersion + 1);
  EXPECT_EQ(scheduler_->Register(request).status().code(),
            absl::StatusCode::kFailedPrecondition);
  v1::LeaseRequest lease;
  lease.set_worker_id("never-registered");
  EXPECT_EQ(scheduler_->Lease(lease).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, HeartbeatsKeepTheLeaseAlive) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(50));
    EXPECT_TRUE(Heartbeat(*lease, w).lease_valid());
    EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
  }
  EXPECT_EQ(Report(*lease, w), v1::RECORDED);
}

// ---- fencing

TEST_F(SchedulerTest, SameReportTwiceIsDuplicate) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  v1::ReportRequest report = ReportFor(*lease, w);
  EXPECT_EQ(Report(report), v1::RECORDED);
  EXPECT_EQ(Report(report), v1::DUPLICATE);  // the ack was lost; the spool retries
  // The same lease reporting a different outcome is not that report: refused.
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::STALE);
}

TEST_F(SchedulerTest, ReportUnderExpiredLeaseIsStaleAndTheJobReturns) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(Report(*lease, w), v1::STALE);
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, v1::PENDING);
  EXPECT_EQ(job.worker_deaths, 1);
  EXPECT_FALSE(Heartbeat(*lease, w).lease_valid());
}

TEST_F(SchedulerTest, ReportUnderForeignLeaseIsStale) {
  std::string w1 = Register("node1");
  std::string w2 = Register("node2");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w1);
  EXPECT_EQ(Report(*lease, w2), v1::STALE);  // another worker
  v1::ReportRequest wrong_id = ReportFor(*lease, w1);
  wrong_id.set_lease_id("forged");
  EXPECT_EQ(Report(wrong_id), v1::STALE);
  v1::ReportRequest wrong_attempt = ReportFor(*lease, w1);
  wrong_attempt.set_attempt(2);
  EXPECT_EQ(Report(wrong_attempt), v1::STALE);
  EXPECT_EQ(Job(lease->job_id()).state, v1::LEASED);  // none of them touched the job
  EXPECT_EQ(Report(*lease, w1), v1::RECORDED);
}

TEST_F(SchedulerTest, OldAttemptCannotOverwriteTheNewOne) {
  std::string w1 = Register("node1");
  std::string w2 = Register("node2");
  Submit({MakeSpec({"a"})});
  auto first = Lease(w1);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  clock_.Advance(absl::Seconds(6));  // past the WORKER_LOST backoff
  auto second = Lease(w2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempt(), 2);
  EXPECT_EQ(Report(*first, w1), v1::STALE);  // the zombie's late report
  EXPECT_EQ(Report(*second, w2), v1::RECORDED);
}

// ---- expiry, retries, poisoning

TEST_F(SchedulerTest, ExpiredLeaseReturnsTheJobAfterABackoff) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  EXPECT_EQ(Job(lease->job_id()).state, v1::PENDING);
  EXPECT_FALSE(Lease(w).has_value());  // WORKER_LOST backoff: 5 s
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(Lease(w).has_value());
}

TEST_F(SchedulerTest, TransientFailuresBackOffExponentiallyThenFail) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::RECORDED);
  EXPECT_EQ(Job(lease->job_id()).state, v1::PENDING);
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
  EXPECT_EQ(job.state, v1::FAILED);  // max_attempts = 3
  EXPECT_EQ(job.failures, 3);
  EXPECT_EQ(job.error_class, v1::TRANSIENT);
}

TEST_F(SchedulerTest, DeterministicFailureIsNotRetried) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a", 0, "any", 0, "", 10})});
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::DETERMINISTIC), v1::RECORDED);
  EXPECT_EQ(Job(lease->job_id()).state, v1::FAILED);
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
    EXPECT_EQ(Job(lease->job_id()).state, v1::PENDING);
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
  EXPECT_EQ(job.state, v1::FAILED);
  EXPECT_EQ(job.worker_deaths, 3);
  EXPECT_EQ(job.error_class, v1::WORKER_LOST);
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
  EXPECT_EQ(Job(running->job_id()).state, v1::CANCELLED);
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
  EXPECT_EQ(job.state, v1::PENDING);
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
  EXPECT_EQ(Job(b->job_id()).state, v1::PENDING);
}

TEST_F(SchedulerTest, DryRunCountsWithoutWriting) {
  Submit({MakeSpec({"a"})});
  SweepSubmission submission;
  submission.name = "dry";
  submission.jobs = {MakeSpec({"a"}), MakeSpec({"z"})};
  submission.dry_run = true;
  auto response = scheduler_->Submit(submission);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->jobs_new(), 1);
  EXPECT_EQ(response->jobs_in_progress(), 1);
  EXPECT_EQ(response->sweep_id(), 0);
}

// ---- matching

TEST_F(SchedulerTest, HigherPriorityRunsFirst) {
  std::string w = Register("node1");
  Submit({MakeSpec({"low", 0}), MakeSpec({"high", 5}), MakeSpec({"mid", 2})});
  EXPECT_EQ(Lease(w)->spec().job_key(), "high");
  EXPECT_EQ(Lease(w)->spec().job_key(), "mid");
  EXPECT_EQ(Lease(w)->spec().job_key(), "low");
}

TEST_F(SchedulerTest, JobsGoOnlyToWorkersWithTheirDeviceAndMemory) {
  std::string cpu = Register("cpu-box", {"cpu"}, 64 * kGiB);
  std::string gpu = Register("gpu-box", {"cuda:0"}, 24 * kGiB);
  Submit({MakeSpec({"needs-cuda", 3, "cuda"}), MakeSpec({"needs-40g", 2, "any", 40 * kGiB}),
          MakeSpec({"needs-cpu", 1, "cpu"})});
  EXPECT_EQ(Lease(gpu)->spec().job_key(), "needs-cuda");
  EXPECT_FALSE(Lease(gpu).has_value());  // 24 GiB < 40 GiB, and it has no cpu device
  EXPECT_EQ(Lease(cpu)->spec().job_key(), "needs-40g");
  EXPECT_EQ(Lease(cpu)->spec().job_key(), "needs-cpu");
}

TEST_F(SchedulerTest, WorkerGetsTheJobWhoseQuantizedModelItHolds) {
  std::string w = Register("node1");
  Submit({MakeSpec({"ppl-4bit", 0, "any", 0, "q-4bit"}), MakeSpec({"ppl-3bit", 0, "any", 0, "q-3bit"}),
          MakeSpec({"boolq-3bit", 0, "any", 0, "q-3bit"})});
  EXPECT_EQ(Lease(w, 0, {"q-3bit"})->spec().job_key(), "ppl-3bit");
  EXPECT_EQ(Lease(w, 0, {"q-3bit"})->spec().job_key(), "boolq-3bit");
  EXPECT_EQ(Lease(w, 0, {"q-3bit"})->spec().job_key(), "ppl-4bit");
}

// ---- restart

TEST_F(SchedulerTest, RestartedSchedulerHonoursOpenLeasesForOneTtl) {
  std::string survivor = Register("survivor");
  std::string casualty = Register("casualty");
  Submit({MakeSpec({"a"}), MakeSpec({"b"}), MakeSpec({"c"})});
  auto kept = Lease(survivor);
  auto lost = Lease(casualty);
  auto done = Lease(survivor);
  v1::ReportRequest spooled = ReportFor(*done, survivor);

  // The coordinator is down for five minutes: longer than the lease TTL.
  clock_.Advance(absl::Minutes(5));
  Start();

  EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
  EXPECT_TRUE(Heartbeat(*kept, survivor).lease_valid());
  EXPECT_EQ(Report(spooled), v1::RECORDED);  // the report spooled during the outage
  EXPECT_EQ(Report(spooled), v1::DUPLICATE);
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(Heartbeat(*kept, survivor).lease_valid());
  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);  // the casualty never came back
  EXPECT_EQ(Job(lost->job_id()).state, v1::PENDING);
  EXPECT_EQ(Job(kept->job_id()).state, v1::RUNNING);
  // A known worker may lease without registering again.
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(Lease(survivor)->job_id(), lost->job_id());
}

TEST_F(SchedulerTest, DeregisterReturnsOpenLeasesUncharged) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  ASSERT_TRUE(scheduler_->Deregister(w).ok());
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, v1::PENDING);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(Report(*lease, w), v1::STALE);
  v1::LeaseRequest request;
  request.set_worker_id(w);
  EXPECT_EQ(scheduler_->Lease(request).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, ListenerHearsAboutNewWork) {
  int notified = 0;
  scheduler_->SetWorkListener([&] { ++notified; });
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  EXPECT_EQ(notified, 1);
  auto lease = Lease(w);
  EXPECT_EQ(Report(*lease, w, v1::REPORT_FAILED, v1::TRANSIENT), v1::RECORDED);
  EXPECT_EQ(notified, 2);
  clock_.Advance(absl::Seconds(5));
  lease = Lease(w);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  EXPECT_EQ(notified, 3);
}

}  // namespace
}  // namespace llmq
