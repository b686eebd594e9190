// Tests only: an in-process LlmqWorker service on a loopback port that hands out the
// leases a test queues, answers heartbeats and reports as the test says, and records
// every call. FakeCoordinatorServer can stop and restart it on the same port, to play a
// coordinator that goes away and comes back.
#ifndef LLMQ_WORKER_TESTING_FAKE_COORDINATOR_H_
#define LLMQ_WORKER_TESTING_FAKE_COORDINATOR_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/llmq.grpc.pb.h"

namespace llmq {
namespace testing {

class FakeCoordinator final : public v1::LlmqWorker::Service {
 public:
  // Queues a job; the next Lease call gets it.
  void AddLease(int64_t job_id, const v1::JobSpec& spec, int32_t attempt = 1) {
    v1::Lease lease;
    lease.set_lease_id(absl::StrCat("lease-", job_id, "-", attempt));
    lease.set_job_id(job_id);
    lease.set_attempt(attempt);
    *lease.mutable_spec() = spec;
    lease.set_ttl_seconds(60);
    absl::MutexLock lock(&mu_);
    queue_.push_back(lease);
  }
  // The answer to heartbeats after the first `normal_beats` (which say: carry on).
  void SetHeartbeatAnswer(bool lease_valid, bool cancel, int normal_beats = 0) {
    absl::MutexLock lock(&mu_);
    lease_valid_ = lease_valid;
    cancel_ = cancel;
    normal_beats_ = normal_beats;
  }
  void SetReportStatus(v1::ReportStatus status) {
    absl::MutexLock lock(&mu_);
    report_status_ = status;
  }
  void SetRegisterError(grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    register_error_ = code;
  }
  // Ends pending long polls (the server is going down).
  void SetStopping(bool stopping) {
    absl::MutexLock lock(&mu_);
    stopping_ = stopping;
  }

  std::vector<v1::RegisterRequest> registers() const { return Get(&FakeCoordinator::registers_); }
  std::vector<v1::LeaseRequest> leases() const { return Get(&FakeCoordinator::leases_); }
  std::vector<v1::HeartbeatRequest> heartbeats() const {
    return Get(&FakeCoordinator::heartbeats_);
  }
  std::vector<v1::ReportRequest> reports() const { return Get(&FakeCoordinator::reports_); }
  std::vector<std::string> authorizations() const {
    return Get(&FakeCoordinator::authorizations_);
  }
  // Every call's name in order: "Register", "Lease", "Heartbeat", "Report", "Deregister".
  std::vector<std::string> calls() const { return Get(&FakeCoordinator::calls_); }
  int deregisters() const {
    absl::MutexLock lock(&mu_);
    return deregisters_;
  }

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override {
    absl::MutexLock lock(&mu_);
    Record(context, "Register");
    registers_.push_back(*request);
    if (register_error_ != grpc::StatusCode::OK) {
      return grpc::Status(register_error_, "refused by the fake");
    }
    response->set_worker_id(request->worker_id().empty()
                                ? absl::StrCat("worker-", registers_.size())
                                : request->worker_id());
    response->set_heartbeat_seconds(1);
    response->set_lease_ttl_seconds(60);
    return grpc::Status::OK;
  }

  grpc::Status Lease(grpc::ServerContext* context, const v1::LeaseRequest* request,
                     v1::LeaseResponse* response) override {
    absl::MutexLock lock(&mu_);
    Record(context, "Lease");
    leases_.push_back(*request);
    const absl::Time until = absl::Now() + absl::Seconds(request->wait_seconds());
    auto ready = [this] {
      mu_.AssertHeld();
      return !queue_.empty() || stopping_;
    };
    while (!ready() && absl::Now() < until && !context->IsCancelled()) {
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(20));
    }
    if (!queue_.empty() && !stopping_ && !context->IsCancelled()) {
      *response->mutable_lease() = queue_.front();
      queue_.pop_front();
    }
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    Record(context, "Heartbeat");
    heartbeats_.push_back(*request);
    const bool normal = static_cast<int>(heartbeats_.size()) <= normal_beats_;
    response->set_lease_valid(normal || lease_valid_);
    response->set_cancel(!normal && cancel_);
    response->set_ttl_seconds(60);
    return grpc::Status::OK;
  }

  grpc::Status Report(grpc::ServerContext* context, const v1::ReportRequest* request,
                      v1::ReportResponse* response) override {
    absl::MutexLock lock(&mu_);
    Record(context, "Report");
    reports_.push_back(*request);
    response->set_status(report_status_);
    return grpc::Status::OK;
  }

  grpc::Status Deregister(grpc::ServerContext* context, const v1::DeregisterRequest*,
                          v1::DeregisterResponse*) override {
    absl::MutexLock lock(&mu_);
    Record(context, "Deregister");
    ++deregisters_;
    return grpc::Status::OK;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& call)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    calls_.push_back(call);
    const auto& metadata = context->client_metadata();
    auto it = metadata.find("authorization");
    authorizations_.push_back(
        it == metadata.end() ? "" : std::string(it->second.data(), it->second.size()));
  }
  template <typename T>
  std::vector<T> Get(std::vector<T> FakeCoordinator::*member) const {
    absl::MutexLock lock(&mu_);
    return this->*member;
  }

  mutable absl::Mutex mu_;
  std::deque<v1::Lease> queue_ ABSL_GUARDED_BY(mu_);
  bool lease_valid_ ABSL_GUARDED_BY(mu_) = true;
  bool cancel_ ABSL_GUARDED_BY(mu_) = false;
  int normal_beats_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  v1::ReportStatus report_status_ ABSL_GUARDED_BY(mu_) = v1::RECORDED;
  grpc::StatusCode register_error_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
  std::vector<v1::RegisterRequest> registers_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::LeaseRequest> leases_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::HeartbeatRequest> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportRequest> reports_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  int deregisters_ ABSL_GUARDED_BY(mu_) = 0;
};

// Serves a FakeCoordinator on 127.0.0.1; Stop() and Start() again keep the port.
class FakeCoordinatorServer {
 public:
  explicit FakeCoordinatorServer(FakeCoordinator* service) : service_(service) {}
  ~FakeCoordinatorServer() { Stop(); }

  bool Start() {
    service_->SetStopping(false);
    grpc::ServerBuilder builder;
    int selected = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_),
                             grpc::InsecureServerCredentials(), &selected);
    builder.RegisterService(service_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || selected == 0) return false;
    port_ = selected;
    return true;
  }
  void Stop() {
    if (server_ == nullptr) return;
    service_->SetStopping(true);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    server_->Wait();
    server_.reset();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  FakeCoordinator* const service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return condition();
}

}  // namespace testing
}  // namespace llmq

#endif  // LLMQ_WORKER_TESTING_FAKE_COORDINATOR_H_
