// llmq-fake-worker: a stand-in for llmq-worker in coordinator tests. It speaks the worker
// protocol (register, long-poll lease, heartbeat, report, deregister) and "runs" a job in
// a few milliseconds, reporting ppl = 10 + bits (10 for unquantized methods). Jobs of
// --fail_method fail DETERMINISTIC. SIGTERM ends it after the current call; its last line
// counts the reports by the coordinator's answer ("reports=N recorded=R duplicate=D
// stale=S"), which llmq_sweep_bench adds up.
//   llmq-fake-worker --coordinator=127.0.0.1:7878 [--token_file=F] [--fail_method=gptq]
#include <csignal>
#include <cstdio>
#include <map>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/version.h"
#include "coordinator/auth.h"
#include "grpcpp/create_channel.h"
#include "proto/llmq.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7878", "coordinator address");
ABSL_FLAG(std::string, token_file, "", "bearer token file");
ABSL_FLAG(std::string, fail_method, "", "jobs of this method fail deterministically");

namespace {

volatile std::sig_atomic_t stop = 0;

void OnSignal(int) { stop = 1; }

class FakeWorker {
 public:
  FakeWorker(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(llmq::v1::LlmqWorker::NewStub(channel)), token_(std::move(token)) {}

  void Prepare(grpc::ClientContext* context, absl::Duration timeout) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context->set_wait_for_ready(true);
    if (!token_.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  }

  bool Register() {
    grpc::ClientContext context;
    Prepare(&context, absl::Seconds(10));
    llmq::v1::RegisterRequest request;
    request.set_host("fake");
    request.add_devices("cpu");
    request.set_memory_bytes(int64_t{8} << 30);
    request.set_version(llmq::kLlmqVersion);
    request.set_protocol_version(llmq::kProtocolVersion);
    request.set_worker_id(worker_id_);
    llmq::v1::RegisterResponse response;
    grpc::Status status = stub_->Register(&context, request, &response);
    if (!status.ok()) return false;
    worker_id_ = response.worker_id();
    return true;
  }

  // One lease-run-report round; false when the coordinator refused us.
  bool RunOnce() {
    llmq::v1::LeaseResponse leased;
    {
      grpc::ClientContext context;
      Prepare(&context, absl::Seconds(10));
      llmq::v1::LeaseRequest request;
      request.set_worker_id(worker_id_);
      request.set_wait_seconds(1);
      if (!stub_->Lease(&context, request, &leased).ok()) return false;
    }
    if (!leased.has_lease()) return true;
    const llmq::v1::Lease& lease = leased.lease();
    {
      grpc::ClientContext context;
      Prepare(&context, absl::Seconds(10));
      llmq::v1::HeartbeatRequest beat;
      beat.set_worker_id(worker_id_);
      beat.set_lease_id(lease.lease_id());
      beat.set_job_id(lease.job_id());
      beat.set_attempt(lease.attempt());
      beat.mutable_progress()->set_stage("evaluate");
      llmq::v1::HeartbeatResponse response;
      (void)stub_->Heartbeat(&context, beat, &response);
    }
    llmq::v1::ReportRequest report;
    report.set_worker_id(worker_id_);
    report.set_lease_id(lease.lease_id());
    report.set_job_id(lease.job_id());
    report.set_attempt(lease.attempt());
    if (lease.spec().method().name() == absl::GetFlag(FLAGS_fail_method)) {
      report.set_outcome(llmq::v1::REPORT_FAILED);
      report.set_error_class(llmq::v1::DETERMINISTIC);
      report.set_error("fake failure");
    } else {
      report.set_outcome(llmq::v1::REPORT_SUCCEEDED);
      double bits = 0;
      auto it = lease.spec().method().params().find("bits");
      if (it != lease.spec().method().params().end()) (void)absl::SimpleAtod(it->second, &bits);
      auto* ppl = report.mutable_result()->add_metrics();
      ppl->set_name("ppl");
      ppl->set_value(10 + bits);
      (*report.mutable_result()->mutable_provenance())["host"] = "fake";
      auto* timing = report.mutable_result()->add_timings();
      timing->set_stage("evaluate");
      timing->set_seconds(0.01);
    }
    grpc::ClientContext context;
    Prepare(&context, absl::Seconds(10));
    llmq::v1::ReportResponse response;
    if (!stub_->Report(&context, report, &response).ok()) return false;
    ++reports_[response.status()];
    return true;
  }

  // "reports=N recorded=R duplicate=D stale=S"
  std::string ReportCounts() const {
    auto count = [this](llmq::v1::ReportStatus status) {
      auto it = reports_.find(status);
      return it == reports_.end() ? 0 : it->second;
    };
    int64_t total = 0;
    for (const auto& [status, n] : reports_) total += n;
    return absl::StrCat("reports=", total, " recorded=", count(llmq::v1::RECORDED),
                        " duplicate=", count(llmq::v1::DUPLICATE),
                        " stale=", count(llmq::v1::STALE));
  }

  void Deregister() {
    grpc::ClientContext context;
    Prepare(&context, absl::Seconds(5));
    llmq::v1::DeregisterRequest request;
    request.set_worker_id(worker_id_);
    llmq::v1::DeregisterResponse response;
    (void)stub_->Deregister(&context, request, &response);
  }

 private:
  std::unique_ptr<llmq::v1::LlmqWorker::Stub> stub_;
  std::string token_;
  std::string worker_id_;
  std::map<llmq::v1::ReportStatus, int64_t> reports_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::string token;
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    auto read = llmq::ReadTokenFile(absl::GetFlag(FLAGS_token_file));
    if (!read.ok()) return 2;
    token = *read;
  }
  FakeWorker worker(grpc::CreateChannel(absl::GetFlag(FLAGS_coordinator),
                                        grpc::InsecureChannelCredentials()),
                    token);
  bool registered = false;
  while (!stop) {
    if (!registered) {
      registered = worker.Register();
      if (!registered) absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    registered = worker.RunOnce();
  }
  if (registered) worker.Deregister();
  std::fprintf(stderr, "fake worker: stopped %s\n", worker.ReportCounts().c_str());
  return 0;
}
