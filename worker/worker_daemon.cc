#include "worker/worker_daemon.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "glog/logging.h"
#include "worker/child_process.h"
#include "worker/host_info.h"

namespace llmq {
namespace {

// Errors after which registering again cannot help: a person must act.
bool IsPermanentRegisterError(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status) ||
         absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) ||
         absl::IsUnimplemented(status);
}

}  // namespace

WorkerDaemon::WorkerDaemon(WorkerConfig config)
    : config_(std::move(config)),
      backoff_(config_.backoff_initial, config_.backoff_max) {}

WorkerDaemon::~WorkerDaemon() = default;

void WorkerDaemon::RequestDrain() {
  LOG(INFO) << "drain requested grace_s=" << absl::ToDoubleSeconds(config_.drain_grace);
  drain_.RequestDrain();
  absl::MutexLock lock(&client_mu_);
  if (client_ready_) client_->StopLeasing();
}

void WorkerDaemon::RequestStopNow() {
  LOG(WARNING) << "stop requested: killing the current job";
  drain_.RequestStopNow();
  absl::MutexLock lock(&client_mu_);
  if (client_ready_) client_->StopLeasing();
}

absl::Status WorkerDaemon::Start() {
  if (config_.spool_dir.empty()) return absl::InvalidArgumentError("no spool directory");
  LLMQ_ASSIGN_OR_RETURN(spool_, WorkerSpool::Open(config_.spool_dir));
  if (!config_.cache_dir.empty()) {
    LLMQ_ASSIGN_OR_RETURN(cache_,
                          ArtifactCache::Open(config_.cache_dir, config_.cache_max_bytes));
    LLMQ_RETURN_IF_ERROR(cache_->Evict().status());  // the limit may have shrunk
  }
  job_command_ = config_.job_command;
  if (job_command_.empty()) job_command_ = {SelfExecutable(), "run-job"};
  worker_id_ = spool_->LoadWorkerId();
  LLMQ_ASSIGN_OR_RETURN(client_, CoordinatorClient::Connect(config_.connection));
  absl::MutexLock lock(&client_mu_);
  client_ready_ = true;
  if (drain_.draining()) client_->StopLeasing();
  return absl::OkStatus();
}

absl::Status WorkerDaemon::Run() {
  LLMQ_RETURN_IF_ERROR(Start());
  LOG(INFO) << "worker starting coordinator=" << config_.connection.target
            << " device=" << config_.device << " spool=" << config_.spool_dir
            << " version=" << kLlmqVersion;
  if (config_.slurm.has_value()) {
    LOG(INFO) << "slurm job=" << config_.slurm->job_id()
              << " array_job=" << config_.slurm->array_job_id()
              << " array_task=" << config_.slurm->array_task_id();
  }
  RecoverInterruptedJobs();
  absl::Time idle_since = absl::Now();
  int jobs_done = 0;
  while (!drain_.draining()) {
    // Checked first: a worker whose coordinator is gone for good should leave too.
    absl::Duration wait = config_.lease_wait;
    if (config_.exit_when_idle > absl::ZeroDuration()) {
      const absl::Duration idle_left = idle_since + config_.exit_when_idle - absl::Now();
      if (idle_left <= absl::ZeroDuration()) {
        LOG(INFO) << "idle limit reached idle_s="
                  << absl::ToDoubleSeconds(config_.exit_when_idle);
        break;
      }
      wait = std::min(wait, idle_left);
    }
    if (!registered_) {
      LLMQ_ASSIGN_OR_RETURN(const bool registered, RegisterOnce());
      if (!registered) {
        BackOff(absl::UnavailableError("Register failed"));
        continue;
      }
    }
    if (!FlushSpool(config_.connection.rpc_timeout)) {
      registered_ = false;
      BackOff(absl::UnavailableError("Report failed"));
      continue;
    }
    v1::LeaseRequest request;
    request.set_worker_id(worker_id_);
    request.set_wait_seconds(
        static_cast<int32_t>(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(
                                                      wait, absl::Seconds(1))))));
    for (std::string& key : CachedKeys()) request.add_cached_quant_keys(std::move(key));
    request.set_free_memory_bytes(FreeMemoryBytes(config_.device, config_.memory_bytes));
    absl::StatusOr<v1::LeaseResponse> leased = client_->Lease(request);
    if (!leased.ok()) {
      if (drain_.draining()) break;
      // Whatever went wrong (unreachable, or a coordinator that restarted and forgot
      // us), registering again first is harmless and often the cure.
      if (backoff_.failures() == 0) {
        LOG(WARNING) << "lease failed error=" << leased.status() << " (retrying with backoff)";
      }
      registered_ = false;
      BackOff(leased.status());
      continue;
    }
    backoff_.Reset();
    if (!leased->has_lease()) continue;
    RunLease(leased->lease());
    ++jobs_done;
    idle_since = absl::Now();
    if (config_.max_jobs > 0 && jobs_done >= config_.max_jobs) {
      LOG(INFO) << "job limit reached jobs=" << jobs_done;
      break;
    }
  }
  Shutdown();
  return absl::OkStatus();
}

absl::StatusOr<bool> WorkerDaemon::RegisterOnce() {
  v1::RegisterRequest request;
  request.set_host(config_.host.empty() ? HostName() : config_.host);
  for (const std::string& device : config_.devices) request.add_devices(device);
  request.set_memory_bytes(config_.memory_bytes);
  for (const auto& [key, value] : config_.labels) (*request.mutable_labels())[key] = value;
  request.set_version(kLlmqVersion);
  request.set_protocol_version(kProtocolVersion);
  for (std::string& key : CachedKeys()) request.add_cached_quant_keys(std::move(key));
  request.set_worker_id(worker_id_);
  if (config_.slurm.has_value()) *request.mutable_slurm() = *config_.slurm;
  absl::StatusOr<v1::RegisterResponse> response = client_->Register(request);
  if (!response.ok()) {
    if (IsPermanentRegisterError(response.status())) {
      return Annotate(response.status(),
                      absl::StrCat("coordinator ", config_.connection.target,
                                   " refused this worker"));
    }
    if (backoff_.failures() == 0) {
      LOG(WARNING) << "coordinator unreachable coordinator=" << config_.connection.target
                   << " error=" << response.status() << " (retrying with backoff)";
    }
    return false;
  }
  if (response->worker_id() != worker_id_) {
    worker_id_ = response->worker_id();
    const absl::Status saved = spool_->SaveWorkerId(worker_id_);
    if (!saved.ok()) LOG(WARNING) << "cannot save worker id: " << saved;
  }
  heartbeat_interval_ = config_.heartbeat_interval > absl::ZeroDuration()
                            ? config_.heartbeat_interval
                        : response->heartbeat_seconds() > 0
                            ? absl::Seconds(response->heartbeat_seconds())
                            : absl::Seconds(10);
  registered_ = true;
  backoff_.Reset();
  LOG(INFO) << "registered worker=" << worker_id_
            << " coordinator=" << config_.connection.target
            << " heartbeat_s=" << absl::ToDoubleSeconds(heartbeat_interval_)
            << " lease_ttl_s=" << response->lease_ttl_seconds();
  return true;
}

bool WorkerDaemon::BackOff(const absl::Status& why) {
  const absl::Duration delay = backoff_.NextDelay();
  VLOG(1) << "backing off delay_s=" << absl::ToDoubleSeconds(delay) << " after " << why;
  return drain_.SleepUnlessDraining(delay);
}

std::vector<std::string> WorkerDaemon::CachedKeys() const {
  return cache_ != nullptr ? cache_->Keys() : std::vector<std::string>{};
}

absl::Status WorkerDaemon::SendReport(const std::string& name,
                                      const v1::ReportRequest& report,
                                      absl::Duration timeout) {
  absl::StatusOr<v1::ReportResponse> response = client_->Report(report, timeout);
  const std::string label = JobLabel(report.job_id(), report.attempt());
  if (!response.ok()) {
    LOG(WARNING) << "report not delivered " << label << " error=" << response.status()
                 << " (kept in spool)";
    return response.status();
  }
  const v1::ReportStatus status = response->status();
  if (status != v1::RECORDED && status != v1::DUPLICATE && status != v1::STALE) {
    LOG(WARNING) << "report answered " << v1::ReportStatus_Name(status) << " " << label
                 << " (kept in spool)";
    return absl::OkStatus();
  }
  LOG(INFO) << "report delivered " << label
            << " outcome=" << v1::ReportOutcome_Name(report.outcome())
            << " status=" << v1::ReportStatus_Name(status);
  const absl::Status removed = spool_->RemoveReport(name);
  if (!removed.ok()) LOG(ERROR) << "cannot remove spooled report: " << removed;
  return absl::OkStatus();
}

bool WorkerDaemon::FlushSpool(absl::Duration timeout) {
  for (const WorkerSpool::PendingReport& pending : spool_->PendingReports()) {
    const absl::Status sent = SendReport(pending.name, pending.report, timeout);
    if (IsUnreachable(sent)) return false;
  }
  return true;
}

void WorkerDaemon::RecoverInterruptedJobs() {
  std::vector<std::string> reported;
  for (const auto& pending : spool_->PendingReports()) reported.push_back(pending.name);
  for (WorkerSpool::InterruptedJob& job : spool_->InterruptedJobs()) {
    if (std::find(reported.begin(), reported.end(), job.name) == reported.end()) {
      v1::ReportRequest report = job.ticket;
      if (job.result.has_value()) {
        report.set_outcome(v1::REPORT_SUCCEEDED);
        *report.mutable_result() = *std::move(job.result);
      } else {
        report.set_outcome(v1::REPORT_RETURNED);
        report.set_error_class(v1::WORKER_LOST);
        report.set_error("the worker stopped while this job ran; handed back on restart");
      }
      LOG(INFO) << "recovered interrupted " << JobLabel(report.job_id(), report.attempt())
                << " outcome=" << v1::ReportOutcome_Name(report.outcome());
      const absl::Status spooled = spool_->PutReport(job.name, report);
      if (!spooled.ok()) {
        LOG(ERROR) << "cannot spool recovered report: " << spooled;
        continue;  // keep the ticket: try again at the next start
      }
    }
    spool_->EndJob(job.name);
  }
}

JobRunnerOptions WorkerDaemon::RunnerOptions() const {
  JobRunnerOptions options;
  options.command = job_command_;
  options.extra_args = {absl::StrCat("--device=", config_.device),
                        absl::StrCat("--threads=", config_.threads)};
  if (cache_ != nullptr) {
    options.extra_args.push_back(absl::StrCat("--cache=", config_.cache_dir));
    options.extra_args.push_back(absl::StrCat("--cache-max-bytes=", config_.cache_max_bytes));
  }
  options.heartbeat_interval = heartbeat_interval_;
  options.drain_grace = config_.drain_grace;
  options.poll_interval = config_.poll_interval;
  options.child.forward_stderr = config_.forward_child_stderr;
  return options;
}

void WorkerDaemon::RunLease(const v1::Lease& lease) {
  const std::string name = WorkerSpool::JobName(lease.job_id(), lease.attempt());
  const std::string label = JobLabel(lease.job_id(), lease.attempt());
  const v1::JobSpec& spec = lease.spec();
  LOG(INFO) << "leased " << label << " lease=" << lease.lease_id()
            << " model=" << spec.model().alias() << " method=" << spec.method().name()
            << " task=" << spec.task().name() << " quant_key=" << spec.quant_key()
            << " cached=" << (cache_ != nullptr && cache_->Has(spec.quant_key()));
  v1::ReportRequest report;
  report.set_worker_id(worker_id_);
  report.set_lease_id(lease.lease_id());
  report.set_job_id(lease.job_id());
  report.set_attempt(lease.attempt());
  if (drain_.draining()) {  // leased as the drain began
    report.set_outcome(v1::REPORT_RETURNED);
    report.set_error_class(v1::PREEMPTED);
    report.set_error("worker draining; handed back before it started");
    SpoolAndSend(name, report);
    return;
  }
  const absl::Status begun = spool_->BeginJob(name, report, spec);
  if (!begun.ok()) {
    report.set_outcome(v1::REPORT_FAILED);
    report.set_error_class(v1::TRANSIENT);
    report.set_error(absl::StrCat("worker cannot write its spool: ", begun.message()));
    SpoolAndSend(name, report);
    return;
  }
  const HeartbeatFn heartbeat = [this, &lease](const v1::Progress& progress) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(lease.lease_id());
    request.set_job_id(lease.job_id());
    request.set_attempt(lease.attempt());
    *request.mutable_progress() = progress;
    return client_->Heartbeat(request);
  };
  JobRunner runner(RunnerOptions(), &drain_);
  JobOutcome outcome =
      runner.Run(lease, spool_->SpecPath(name), spool_->ResultPath(name), heartbeat);
  switch (outcome.kind) {
    case JobOutcome::Kind::kLeaseLost:
      LOG(WARNING) << "lease lost " << label << ": job stopped, nothing reported";
      spool_->EndJob(name);
      return;
    case JobOutcome::Kind::kSucceeded:
      report.set_outcome(v1::REPORT_SUCCEEDED);
      *report.mutable_result() = std::move(outcome.result);
      break;
    case JobOutcome::Kind::kReturned:
      report.set_outcome(v1::REPORT_RETURNED);
      break;
    case JobOutcome::Kind::kFailed:
    case JobOutcome::Kind::kCancelled:
      // A cancelled job is reported too, so that its lease ends now rather than at
      // its TTL; the coordinator keeps the job CANCELLED (or answers STALE).
      report.set_outcome(v1::REPORT_FAILED);
      break;
  }
  if (outcome.kind != JobOutcome::Kind::kSucceeded) {
    report.set_error_class(outcome.error_class);
    report.set_error(outcome.error);
  }
  SpoolAndSend(name, report);
}

void WorkerDaemon::SpoolAndSend(const std::string& name, const v1::ReportRequest& report) {
  const absl::Status spooled = spool_->PutReport(name, report);
  spool_->EndJob(name);
  if (!spooled.ok()) {
    // Still worth sending; it is lost only if this send fails too.
    LOG(ERROR) << "cannot spool report " << JobLabel(report.job_id(), report.attempt())
               << ": " << spooled;
    absl::StatusOr<v1::ReportResponse> response =
        client_->Report(report, config_.connection.rpc_timeout);
    if (!response.ok()) LOG(ERROR) << "report lost: " << response.status();
    return;
  }
  // If the coordinator does not answer, the main loop retries from the spool.
  (void)SendReport(name, report, config_.connection.rpc_timeout);
}

void WorkerDaemon::Shutdown() {
  {
    absl::MutexLock lock(&client_mu_);
    client_->StopLeasing();
  }
  const bool hurry = drain_.stop_now();
  const absl::Duration timeout = hurry ? absl::Seconds(1) : config_.connection.rpc_timeout;
  // Spooled reports get a bounded number of tries: they survive in the spool anyway.
  const absl::Time give_up = absl::Now() + (hurry ? absl::ZeroDuration() : config_.drain_grace);
  ExponentialBackoff backoff(config_.backoff_initial, config_.backoff_max);
  while (!FlushSpool(timeout) && absl::Now() < give_up && !drain_.stop_now()) {
    absl::SleepFor(std::min(backoff.NextDelay(), give_up - absl::Now()));
  }
  const size_t left = spool_->PendingReports().size();
  if (left > 0) {
    LOG(WARNING) << "reports left in spool count=" << left << " dir=" << config_.spool_dir
                 << " (sent when a worker starts on this spool again)";
  }
  if (!worker_id_.empty()) {
    v1::DeregisterRequest request;
    request.set_worker_id(worker_id_);
    const absl::Status status = client_->Deregister(request, timeout);
    if (!status.ok()) LOG(WARNING) << "deregister failed: " << status;
  }
  LOG(INFO) << "worker stopped worker=" << worker_id_;
}

}  // namespace llmq
