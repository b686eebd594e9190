#include "coordinator/scheduler_test_fixture.h"

namespace llmq {
namespace {

// ---- the happy path and every transition on it

TEST_F(SchedulerTest, JobGoesPendingLeasedRunningSucceeded) {
  std::string w = Register("node1");
  Submit({MakeSpec({"a"})});
  auto lease = Lease(w);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->attempt(), 1);
  EXPECT_EQ(lease->ttl_seconds(), 60);
  EXPECT_EQ(lease->spec().job_key(), "a");
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kLeased);

  v1::HeartbeatResponse beat = Heartbeat(*lease, w);
  EXPECT_TRUE(beat.lease_valid());
  EXPECT_FALSE(beat.cancel());
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kRunning);

  EXPECT_EQ(Report(*lease, w), v1::RECORDED);
  JobRecord job = Job(lease->job_id());
  EXPECT_EQ(job.state, JobState::kSucceeded);
  EXPECT_FALSE(job.has_open_lease());
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto rows = txn.QueryResults(ResultsFilter());
                    EXPECT_EQ(rows->size(), 1u);
                    const auto& provenance = (*rows)[0].provenance;
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
  EXPECT_EQ(job.state, JobState::kPending);
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
  EXPECT_EQ(Job(lease->job_id()).state, JobState::kLeased);  // none of them touched the job
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
  EXPECT_EQ(Job(lost->job_id()).state, JobState::kPending);
  EXPECT_EQ(Job(kept->job_id()).state, JobState::kRunning);
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
  EXPECT_EQ(job.state, JobState::kPending);
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
