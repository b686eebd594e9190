// Scheduler: leases, heartbeats, fenced reports and lease expiry; then start-up (restart
// recovery), sweep submission, cancel/retry, and worker registration.
#include "coordinator/scheduler.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/cost_model.h"
#include "coordinator/store_codec.h"
#include "storage/codec.h"

namespace llmq {
namespace {

constexpr absl::Duration kTouchEvery = absl::Seconds(5);

JobCounters CountersOf(const JobRecord& job) {
  return JobCounters{job.failures, job.max_attempts, job.worker_deaths};
}

LeaseFence FenceOf(const JobRecord& job) { return LeaseFence{job.id, job.lease_id, job.attempts}; }

// The outcome an attempt row carries once a report of this kind was recorded.
const char* OutcomeOf(v1::ReportOutcome outcome) {
  switch (outcome) {
    case v1::REPORT_SUCCEEDED: return "SUCCEEDED";
    case v1::REPORT_FAILED: return "FAILED";
    case v1::REPORT_RETURNED: return "RETURNED";
    default: return "?";
  }
}

bool LeaseMatches(const JobRecord& job, const std::string& lease_id, int attempt,
                  const std::string& worker_id) {
  return job.has_open_lease() && job.lease_id == lease_id && job.attempts == attempt &&
         job.lease_worker == worker_id;
}

}  // namespace

absl::StatusOr<std::optional<v1::Lease>> Scheduler::Lease(const v1::LeaseRequest& request) {
  const absl::Time now = clock_->Now();
  std::optional<ClaimedJob> claimed;
  v1::JobSpec spec;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(WorkerCaps caps, FindWorker(txn, request.worker_id()));
    ClaimRequest claim;
    claim.worker_id = request.worker_id();
    claim.lease_id = NewLeaseId();
    claim.has_cpu = caps.has_cpu;
    claim.has_cuda = caps.has_cuda;
    claim.free_memory_bytes =
        request.free_memory_bytes() > 0 ? request.free_memory_bytes() : caps.memory_bytes;
    claim.cached_quant_keys.assign(request.cached_quant_keys().begin(),
                                   request.cached_quant_keys().end());
    claim.now = now;
    claim.lease_expires = now + options_.lease_ttl;
    LLMQ_ASSIGN_OR_RETURN(claimed, txn.ClaimNextJob(claim));
    // Parsed here so that an unreadable spec rolls the lease back.
    if (claimed.has_value()) {
      LLMQ_ASSIGN_OR_RETURN(spec, ParseStoredSpec(claimed->job_id, claimed->spec));
    }
    return MaybeTouchWorker(txn, request.worker_id(), now);
  }));
  if (!claimed.has_value()) return std::optional<v1::Lease>();
  metrics_.leases_granted.fetch_add(1, std::memory_order_relaxed);
  if (claimed->attempt > 1) metrics_.retries.fetch_add(1, std::memory_order_relaxed);
  metrics_.queue_wait_seconds.Observe(
      std::max(0.0, absl::ToDoubleSeconds(now - claimed->eligible_since)));
  VLOG(1) << "event=leased job=" << claimed->job_id << " attempt=" << claimed->attempt
          << " worker=" << request.worker_id() << " affinity=" << claimed->affinity_hit;
  v1::Lease lease;
  lease.set_lease_id(claimed->lease_id);
  lease.set_job_id(claimed->job_id);
  lease.set_attempt(claimed->attempt);
  *lease.mutable_spec() = std::move(spec);
  lease.set_ttl_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_ttl)));
  return std::make_optional(std::move(lease));
}

absl::StatusOr<v1::HeartbeatResponse> Scheduler::Heartbeat(const v1::HeartbeatRequest& request) {
  const absl::Time now = clock_->Now();
  v1::HeartbeatResponse response;
  bool requeued = false;
  bool expired = false;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    response = v1::HeartbeatResponse();
    requeued = false;
    expired = false;
    LLMQ_RETURN_IF_ERROR(MaybeTouchWorker(txn, request.worker_id(), now));
    LLMQ_ASSIGN_OR_RETURN(std::optional<JobRecord> job, txn.GetJob(request.job_id()));
    if (!job.has_value() ||
        !LeaseMatches(*job, request.lease_id(), request.attempt(), request.worker_id())) {
      return absl::OkStatus();  // lease_valid = false
    }
    if (job->lease_expires <= now) {
      expired = true;
      LLMQ_ASSIGN_OR_RETURN(requeued, ExpireLease(txn, *job, now));
      return absl::OkStatus();
    }
    LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job->state, JobEvent::kStart,
                                                         ErrorClass::kUnspecified,
                                                         CountersOf(*job), options_.retry));
    LLMQ_ASSIGN_OR_RETURN(bool renewed,
                          txn.RenewLease(FenceOf(*job), now + options_.lease_ttl,
                                         FromProto(request.progress()),
                                         /*start=*/job->state == JobState::kLeased, now));
    response.set_lease_valid(renewed);
    response.set_cancel(t.next == JobState::kCancelled);
    response.set_ttl_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_ttl)));
    return absl::OkStatus();
  }));
  if (expired) metrics_.leases_expired.fetch_add(1, std::memory_order_relaxed);
  if (requeued) NotifyWork();
  return response;
}

absl::StatusOr<v1::ReportStatus> Scheduler::Report(const v1::ReportRequest& request) {
  const absl::Time now = clock_->Now();
  v1::ReportStatus status = v1::REPORT_STATUS_UNSPECIFIED;
  ReportEffects effects;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    effects = ReportEffects();
    LLMQ_RETURN_IF_ERROR(MaybeTouchWorker(txn, request.worker_id(), now));
    LLMQ_ASSIGN_OR_RETURN(status, ApplyReport(txn, request, now, &effects));
    return absl::OkStatus();
  }));
  if (effects.lease_expired) metrics_.leases_expired.fetch_add(1, std::memory_order_relaxed);
  if (effects.succeeded_after.has_value()) {
    metrics_.job_duration_seconds.Observe(absl::ToDoubleSeconds(*effects.succeeded_after));
  }
  LOG_IF(INFO, status != v1::RECORDED)
      << "event=report_refused job=" << request.job_id() << " attempt=" << request.attempt()
      << " worker=" << request.worker_id() << " status=" << v1::ReportStatus_Name(status);
  if (effects.requeued) NotifyWork();
  return status;
}

absl::StatusOr<v1::ReportStatus> Scheduler::ApplyReport(WriteTxn& txn,
                                                        const v1::ReportRequest& request,
                                                        absl::Time now,
                                                        ReportEffects* effects) {
  JobEvent event;
  switch (request.outcome()) {
    case v1::REPORT_SUCCEEDED: event = JobEvent::kSucceed; break;
    case v1::REPORT_FAILED: event = JobEvent::kFail; break;
    case v1::REPORT_RETURNED: event = JobEvent::kReturn; break;
    default:
      return absl::InvalidArgumentError("report outcome must be SUCCEEDED, FAILED or RETURNED");
  }
  LLMQ_ASSIGN_OR_RETURN(std::optional<JobRecord> job, txn.GetJob(request.job_id()));
  if (!job.has_value()) return v1::STALE;
  if (!LeaseMatches(*job, request.lease_id(), request.attempt(), request.worker_id())) {
    // Not the open lease. The same report recorded before (its ack was lost) is a
    // duplicate; anything else comes from an expired or foreign lease.
    LLMQ_ASSIGN_OR_RETURN(std::optional<AttemptRecord> attempt,
                          txn.GetAttempt(request.job_id(), request.attempt()));
    const bool duplicate = attempt.has_value() && attempt->lease_id == request.lease_id() &&
                           attempt->worker_id == request.worker_id() &&
                           attempt->outcome == OutcomeOf(request.outcome());
    return duplicate ? v1::DUPLICATE : v1::STALE;
  }
  if (job->lease_expires <= now) {
    effects->lease_expired = true;
    LLMQ_ASSIGN_OR_RETURN(effects->requeued, ExpireLease(txn, *job, now));
    return v1::STALE;
  }
  const ErrorClass error_class = FromProto(request.error_class());
  LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job->state, event, error_class,
                                                       CountersOf(*job), options_.retry));
  AttemptEnd end;
  end.outcome = OutcomeOf(request.outcome());
  end.next_state = t.next;
  end.charged = t.charged;
  end.worker_death = t.worker_death;
  end.now = now;
  end.next_eligible = now + t.backoff;
  if (event == JobEvent::kFail) {
    end.error_class = error_class;
    end.error = t.poisoned ? t.reason : request.error();
  } else if (t.next == JobState::kCancelled) {
    end.error = "cancelled by the user";
  }
  if (t.wants_more_memory) {
    LLMQ_ASSIGN_OR_RETURN(std::optional<AttemptRecord> attempt,
                          txn.GetAttempt(job->id, job->attempts));
    end.memory_hint_bytes = attempt.has_value() ? attempt->free_memory_bytes : 0;
    end.memory_hint_until = now + t.backoff + options_.oom_preference;
  }
  LLMQ_ASSIGN_OR_RETURN(bool finished, txn.FinishAttempt(FenceOf(*job), end));
  if (!finished) return v1::STALE;
  if (event == JobEvent::kSucceed) {
    const std::map<std::string, std::string> coordinator_provenance = {
        {"coordinator_version", kLlmqVersion},
        {"job_key", job->job_key},
        {"quant_key", job->quant_key},
        {"attempt", absl::StrCat(request.attempt())},
        {"worker_id", request.worker_id()},
        {"lease_id", request.lease_id()}};
    LLMQ_RETURN_IF_ERROR(txn.InsertResult(job->id, request.attempt(), request.worker_id(),
                                          FromProto(request.result()), coordinator_provenance,
                                          now));
    LLMQ_ASSIGN_OR_RETURN(std::optional<AttemptRecord> attempt,
                          txn.GetAttempt(job->id, request.attempt()));
    if (attempt.has_value()) effects->succeeded_after = now - attempt->leased;
  }
  effects->requeued = t.next == JobState::kPending;
  LOG(INFO) << "event=report_recorded job=" << job->id << " attempt=" << request.attempt()
            << " worker=" << request.worker_id() << " outcome="
            << v1::ReportOutcome_Name(request.outcome())
            << " error_class=" << ErrorClassName(error_class)
            << " state=" << JobStateName(t.next)
            << (t.reason.empty() ? "" : absl::StrCat(" why=\"", t.reason, "\""));
  return v1::RECORDED;
}

absl::StatusOr<bool> Scheduler::ExpireLease(WriteTxn& txn, const JobRecord& job,
                                            absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job.state, JobEvent::kExpire,
                                                       ErrorClass::kWorkerLost, CountersOf(job),
                                                       options_.retry));
  AttemptEnd end;
  end.outcome = "EXPIRED";
  end.next_state = t.next;
  end.error_class =
      t.next == JobState::kCancelled ? ErrorClass::kUnspecified : ErrorClass::kWorkerLost;
  end.error = t.next == JobState::kCancelled ? "cancelled by the user" : t.reason;
  end.worker_death = t.worker_death;
  end.now = now;
  end.next_eligible = now + t.backoff;
  LLMQ_ASSIGN_OR_RETURN(bool finished, txn.FinishAttempt(FenceOf(job), end));
  LOG(WARNING) << "event=lease_expired job=" << job.id << " attempt=" << job.attempts
               << " worker=" << job.lease_worker << " state=" << JobStateName(t.next)
               << " why=\"" << t.reason << "\"";
  return finished && t.next == JobState::kPending;
}

absl::StatusOr<int> Scheduler::ExpireLeases() {
  const absl::Time now = clock_->Now();
  int expired = 0;
  bool requeued_any = false;
  constexpr int kBatch = 500;
  while (true) {
    int batch = 0;
    LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
      batch = 0;
      LLMQ_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, txn.ListExpiredLeases(now, kBatch));
      for (const JobRecord& job : jobs) {
        LLMQ_ASSIGN_OR_RETURN(bool requeued, ExpireLease(txn, job, now));
        requeued_any |= requeued;
        ++batch;
      }
      return absl::OkStatus();
    }));
    expired += batch;
    metrics_.leases_expired.fetch_add(batch, std::memory_order_relaxed);
    if (batch < kBatch) break;
  }
  int64_t gone = 0;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(gone, txn.MarkSilentWorkersGone(now - options_.worker_gone_after));
    return absl::OkStatus();
  }));
  LOG_IF(INFO, gone > 0) << "event=workers_gone count=" << gone;
  if (requeued_any) NotifyWork();
  return expired;
}

absl::Status Scheduler::MaybeTouchWorker(WriteTxn& txn, const std::string& worker_id,
                                         absl::Time now) {
  // Only a worker this scheduler knows as registered comes back from "gone"; one that
  // deregistered (or was forgotten) is merely seen, and must register to lease again.
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) {
      if (now - it->second.last_touched < kTouchEvery) return absl::OkStatus();
      it->second.last_touched = now;
      known = true;
    }
  }
  return txn.TouchWorker(worker_id, now, /*revive=*/known);
}

void Scheduler::NotifyWork() {
  std::function<void()> listener;
  {
    absl::MutexLock lock(&mu_);
    listener = listener_;
  }
  if (listener) listener();
}

}  // namespace llmq

// Scheduler: start-up (restart recovery), sweep submission, cancel/retry, and worker
// registration.
namespace llmq {
namespace {

std::string RandomHex(int bytes) {
  thread_local absl::BitGen gen;
  std::string hex;
  for (int i = 0; i < bytes; i += 8) {
    absl::StrAppend(&hex, absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen)));
  }
  return hex.substr(0, 2 * bytes);
}

absl::Status NoSuchSweep(int64_t sweep_id) {
  return absl::NotFoundError(absl::StrCat("no sweep ", sweep_id));
}

}  // namespace

std::string NewLeaseId() { return RandomHex(16); }

std::string NewWorkerId(const std::string& host) {
  return absl::StrCat(host.empty() ? "worker" : host, "-", RandomHex(4));
}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(Store* store, Clock* clock,
                                                             const SchedulerOptions& options) {
  std::unique_ptr<Scheduler> scheduler(new Scheduler(store, clock, options));
  // A restart must not expire leases whose workers could not reach us while we were
  // down: every open lease gets one full TTL from now.
  const absl::Time now = clock->Now();
  int64_t rearmed = 0, workers = 0;
  LLMQ_RETURN_IF_ERROR(store->Write([&](WriteTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(rearmed, txn.RearmOpenLeases(now + options.lease_ttl));
    LLMQ_ASSIGN_OR_RETURN(workers, txn.RefreshActiveWorkers(now));
    return absl::OkStatus();
  }));
  LOG(INFO) << "event=scheduler_started db=" << store->path() << " open_leases=" << rearmed
            << " known_workers=" << workers
            << " lease_ttl=" << absl::FormatDuration(options.lease_ttl);
  return scheduler;
}

void Scheduler::SetWorkListener(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

JobSource JobsFrom(std::vector<v1::JobSpec> jobs) {
  return [jobs = std::move(jobs)](JobSink sink) -> absl::StatusOr<int64_t> {
    for (const v1::JobSpec& job : jobs) LLMQ_RETURN_IF_ERROR(sink(job));
    return static_cast<int64_t>(jobs.size());
  };
}

absl::StatusOr<v1::SubmitSweepResponse> Scheduler::Submit(const SweepSubmission& submission) {
  auto check = [](const v1::JobSpec& spec) -> absl::Status {
    if (spec.job_key().empty()) {
      return absl::InvalidArgumentError("a job spec has no job_key (grid expansion bug)");
    }
    return absl::OkStatus();
  };
  v1::SubmitSweepResponse response;
  // What finished jobs cost, and who will run the new ones: the cost model's inputs.
  std::optional<CostHistory> history;
  int active_workers = 0;
  LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<RecordedCost> recorded, txn.RecordedCosts());
    history.emplace(recorded);
    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> workers, txn.ListWorkers());
    for (const WorkerRow& worker : workers) active_workers += worker.worker.state == "active";
    return absl::OkStatus();
  }));
  auto estimate = [&](const v1::JobSpec& spec) {
    auto bytes = submission.model_bytes.find(spec.model().path());
    return history->EstimateJob(spec, bytes == submission.model_bytes.end() ? 0 : bytes->second);
  };
  SweepCostTally tally;
  if (submission.dry_run) {
    LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
      LLMQ_ASSIGN_OR_RETURN(
          const int64_t total, submission.jobs([&](const v1::JobSpec& spec) -> absl::Status {
            LLMQ_RETURN_IF_ERROR(check(spec));
            LLMQ_ASSIGN_OR_RETURN(std::optional<JobState> state,
                                  txn.JobStateByKey(spec.job_key()));
            const bool is_new =
                !state.has_value() || *state == JobState::kFailed || *state == JobState::kCancelled;
            if (is_new) {
              response.set_jobs_new(response.jobs_new() + 1);
            } else if (*state == JobState::kSucceeded) {
              response.set_jobs_already_done(response.jobs_already_done() + 1);
            } else {
              response.set_jobs_in_progress(response.jobs_in_progress() + 1);
            }
            tally.Add(spec, estimate(spec), is_new);
            return absl::OkStatus();
          }));
      response.set_jobs_total(total);
      return absl::OkStatus();
    }));
    tally.Fill(active_workers, &response);
    return response;
  }
  const absl::Time now = clock_->Now();
  const absl::Time started = absl::Now();  // wall time for the log, whatever the clock
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    response.set_jobs_new(0);
    response.set_jobs_already_done(0);
    response.set_jobs_in_progress(0);
    LLMQ_ASSIGN_OR_RETURN(int64_t sweep_id, txn.InsertSweep(submission.name, submission.grid_yaml,
                                                            submission.grid_path, now));
    response.set_sweep_id(sweep_id);
    LLMQ_ASSIGN_OR_RETURN(
        const int64_t total, submission.jobs([&](const v1::JobSpec& spec) -> absl::Status {
          LLMQ_RETURN_IF_ERROR(check(spec));
          const int max_attempts =
              spec.max_attempts() > 0 ? spec.max_attempts() : options_.retry.default_max_attempts;
          NewJob job = FromProto(spec);
          job.predicted_seconds = estimate(spec).seconds;
          LLMQ_ASSIGN_OR_RETURN(WriteTxn::AddedJob added,
                                txn.AddJob(sweep_id, job, max_attempts, now));
          if (added.inserted) {
            response.set_jobs_new(response.jobs_new() + 1);
          } else if (DecideTransition(added.existing_state, JobEvent::kRetry,
                                      ErrorClass::kUnspecified, {}, options_.retry)
                         .ok()) {
            LLMQ_RETURN_IF_ERROR(
                txn.RequeueJobs(sweep_id, {added.job_id}, {added.existing_state}, now).status());
            response.set_jobs_new(response.jobs_new() + 1);
          } else if (added.existing_state == JobState::kSucceeded) {
            response.set_jobs_already_done(response.jobs_already_done() + 1);
          } else {
            response.set_jobs_in_progress(response.jobs_in_progress() + 1);
          }
          return absl::OkStatus();
        }));
    response.set_jobs_total(total);
    return absl::OkStatus();
  }));
  LOG(INFO) << "event=sweep_submitted sweep=" << response.sweep_id() << " name=\""
            << submission.name << "\" jobs=" << response.jobs_total()
            << " new=" << response.jobs_new() << " done=" << response.jobs_already_done()
            << " in_progress=" << response.jobs_in_progress()
            << " ms=" << absl::ToInt64Milliseconds(absl::Now() - started);
  if (response.jobs_new() > 0) NotifyWork();
  return response;
}

absl::StatusOr<int64_t> Scheduler::CancelSweep(int64_t sweep_id) {
  bool exists = false;
  LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(auto sweep, txn.GetSweep(sweep_id));
    exists = sweep.has_value();
    return absl::OkStatus();
  }));
  if (!exists) return NoSuchSweep(sweep_id);
  int64_t cancelled = 0;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(cancelled, txn.CancelJobs(sweep_id, StatesAllowing(JobEvent::kCancel),
                                                    clock_->Now()));
    return absl::OkStatus();
  }));
  LOG(INFO) << "event=sweep_cancelled sweep=" << sweep_id << " jobs=" << cancelled;
  return cancelled;
}

absl::StatusOr<int64_t> Scheduler::RetryJobs(int64_t sweep_id,
                                             const std::vector<int64_t>& job_ids) {
  bool exists = false;
  LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(auto sweep, txn.GetSweep(sweep_id));
    exists = sweep.has_value();
    return absl::OkStatus();
  }));
  if (!exists) return NoSuchSweep(sweep_id);
  int64_t requeued = 0;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(requeued, txn.RequeueJobs(sweep_id, job_ids,
                                                    StatesAllowing(JobEvent::kRetry),
                                                    clock_->Now()));
    return absl::OkStatus();
  }));
  LOG(INFO) << "event=jobs_retried sweep=" << sweep_id << " jobs=" << requeued;
  if (requeued > 0) NotifyWork();
  return requeued;
}

Scheduler::WorkerCaps Scheduler::CapsOf(const WorkerRecord& worker) {
  WorkerCaps caps;
  caps.has_cpu = worker.devices.empty();
  for (const std::string& device : worker.devices) {
    if (absl::StartsWith(device, "cpu")) caps.has_cpu = true;
    if (absl::StartsWith(device, "cuda")) caps.has_cuda = true;
  }
  caps.memory_bytes = worker.memory_bytes;
  return caps;
}

absl::StatusOr<v1::RegisterResponse> Scheduler::Register(const v1::RegisterRequest& request) {
  if (request.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "worker speaks protocol ", request.protocol_version(), ", this coordinator ",
        kProtocolVersion, "; run matching llmq versions"));
  }
  WorkerRecord worker;
  worker.id = request.worker_id().empty() ? NewWorkerId(request.host()) : request.worker_id();
  worker.host = request.host();
  worker.devices.assign(request.devices().begin(), request.devices().end());
  worker.memory_bytes = request.memory_bytes();
  worker.labels.insert(request.labels().begin(), request.labels().end());
  worker.version = request.version();
  if (request.has_slurm()) {
    worker.slurm = SlurmJobRecord{request.slurm().job_id(), request.slurm().array_job_id(),
                                  request.slurm().array_task_id()};
  }
  const absl::Time now = clock_->Now();
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) { return txn.UpsertWorker(worker, now); }));
  {
    absl::MutexLock lock(&mu_);
    WorkerCaps caps = CapsOf(worker);
    caps.last_touched = now;
    workers_[worker.id] = caps;
  }
  LOG(INFO) << "event=worker_registered worker=" << worker.id << " host=" << worker.host
            << " devices=" << StringListToJson(worker.devices)
            << " memory_bytes=" << worker.memory_bytes << " version=" << worker.version
            << " again=" << !request.worker_id().empty();
  if (worker.slurm.has_value()) {
    LOG(INFO) << "event=worker_slurm_job worker=" << worker.id
              << " slurm_job=" << worker.slurm->job_id
              << " array_job=" << worker.slurm->array_job_id
              << " array_task=" << worker.slurm->array_task_id;
  }
  v1::RegisterResponse response;
  response.set_worker_id(worker.id);
  response.set_heartbeat_seconds(
      static_cast<int32_t>(absl::ToInt64Seconds(options_.heartbeat_interval)));
  response.set_lease_ttl_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_ttl)));
  return response;
}

absl::Status Scheduler::Deregister(const std::string& worker_id) {
  const absl::Time now = clock_->Now();
  int returned = 0;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    returned = 0;
    LLMQ_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, txn.ListLeasesOfWorker(worker_id));
    for (const JobRecord& job : jobs) {
      LLMQ_ASSIGN_OR_RETURN(Transition t,
                            DecideTransition(job.state, JobEvent::kReturn,
                                             ErrorClass::kUnspecified,
                                             {job.failures, job.max_attempts, job.worker_deaths},
                                             options_.retry));
      AttemptEnd end;
      end.outcome = "RETURNED";
      end.next_state = t.next;
      end.now = now;
      LLMQ_ASSIGN_OR_RETURN(bool finished,
                            txn.FinishAttempt({job.id, job.lease_id, job.attempts}, end));
      returned += finished ? 1 : 0;
    }
    return txn.SetWorkerState(worker_id, "gone", now);
  }));
  {
    absl::MutexLock lock(&mu_);
    workers_.erase(worker_id);
  }
  LOG(INFO) << "event=worker_deregistered worker=" << worker_id << " returned_jobs=" << returned;
  if (returned > 0) NotifyWork();
  return absl::OkStatus();
}

absl::StatusOr<Scheduler::WorkerCaps> Scheduler::FindWorker(WriteTxn& txn,
                                                            const std::string& worker_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) return it->second;
  }
  LLMQ_ASSIGN_OR_RETURN(std::optional<WorkerRecord> worker, txn.GetWorker(worker_id));
  if (!worker.has_value() || worker->state == "gone") {
    return absl::NotFoundError(
        absl::StrCat("worker '", worker_id, "' is not registered; register again"));
  }
  WorkerCaps caps = CapsOf(*worker);
  absl::MutexLock lock(&mu_);
  workers_[worker_id] = caps;
  return caps;
}

}  // namespace llmq
