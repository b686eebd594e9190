// For scheduler tests: a Scheduler on a fresh database file with a hand-moved clock, and
// helpers that play the worker's side.
#ifndef LLMQ_COORDINATOR_SCHEDULER_TEST_FIXTURE_H_
#define LLMQ_COORDINATOR_SCHEDULER_TEST_FIXTURE_H_

#include "common/version.h"
#include "coordinator/scheduler.h"
#include "coordinator/test_util.h"
#include "gtest/gtest.h"
#include "storage/test_db.h"

namespace llmq {

inline constexpr int64_t kGiB = int64_t{1} << 30;

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
    submission.jobs = JobsFrom(specs);
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

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SCHEDULER_TEST_FIXTURE_H_
