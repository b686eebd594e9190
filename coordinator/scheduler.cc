// Scheduler: leases, heartbeats, fenced reports and lease expiry. Submission, workers and
// user commands are in scheduler_admin.cc.
#include "coordinator/scheduler.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
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
    return MaybeTouchWorker(txn, request.worker_id(), now);
  }));
  if (!claimed.has_value()) return std::optional<v1::Lease>();
  VLOG(1) << "event=leased job=" << claimed->job_id << " attempt=" << claimed->attempt
          << " worker=" << request.worker_id() << " affinity=" << claimed->affinity_hit;
  v1::Lease lease;
  lease.set_lease_id(claimed->lease_id);
  lease.set_job_id(claimed->job_id);
  lease.set_attempt(claimed->attempt);
  *lease.mutable_spec() = std::move(claimed->spec);
  lease.set_ttl_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_ttl)));
  return std::make_optional(std::move(lease));
}

absl::StatusOr<v1::HeartbeatResponse> Scheduler::Heartbeat(const v1::HeartbeatRequest& request) {
  const absl::Time now = clock_->Now();
  v1::HeartbeatResponse response;
  bool requeued = false;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    response = v1::HeartbeatResponse();
    requeued = false;
    LLMQ_RETURN_IF_ERROR(MaybeTouchWorker(txn, request.worker_id(), now));
    LLMQ_ASSIGN_OR_RETURN(std::optional<JobRecord> job, txn.GetJob(request.job_id()));
    if (!job.has_value() ||
        !LeaseMatches(*job, request.lease_id(), request.attempt(), request.worker_id())) {
      return absl::OkStatus();  // lease_valid = false
    }
    if (job->lease_expires <= now) {
      LLMQ_ASSIGN_OR_RETURN(requeued, ExpireLease(txn, *job, now));
      return absl::OkStatus();
    }
    LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job->state, JobEvent::kStart,
                                                         v1::ERROR_CLASS_UNSPECIFIED,
                                                         CountersOf(*job), options_.retry));
    LLMQ_ASSIGN_OR_RETURN(bool renewed,
                          txn.RenewLease(FenceOf(*job), now + options_.lease_ttl,
                                         request.progress(),
                                         /*start=*/job->state == v1::LEASED, now));
    response.set_lease_valid(renewed);
    response.set_cancel(t.next == v1::CANCELLED);
    response.set_ttl_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_ttl)));
    return absl::OkStatus();
  }));
  if (requeued) NotifyWork();
  return response;
}

absl::StatusOr<v1::ReportStatus> Scheduler::Report(const v1::ReportRequest& request) {
  const absl::Time now = clock_->Now();
  v1::ReportStatus status = v1::REPORT_STATUS_UNSPECIFIED;
  bool requeued = false;
  LLMQ_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    requeued = false;
    LLMQ_RETURN_IF_ERROR(MaybeTouchWorker(txn, request.worker_id(), now));
    LLMQ_ASSIGN_OR_RETURN(status, ApplyReport(txn, request, now, &requeued));
    return absl::OkStatus();
  }));
  LOG_IF(INFO, status != v1::RECORDED)
      << "event=report_refused job=" << request.job_id() << " attempt=" << request.attempt()
      << " worker=" << request.worker_id() << " status=" << v1::ReportStatus_Name(status);
  if (requeued) NotifyWork();
  return status;
}

absl::StatusOr<v1::ReportStatus> Scheduler::ApplyReport(WriteTxn& txn,
                                                        const v1::ReportRequest& request,
                                                        absl::Time now, bool* requeued) {
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
    LLMQ_ASSIGN_OR_RETURN(*requeued, ExpireLease(txn, *job, now));
    return v1::STALE;
  }
  LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job->state, event, request.error_class(),
                                                       CountersOf(*job), options_.retry));
  AttemptEnd end;
  end.outcome = OutcomeOf(request.outcome());
  end.next_state = t.next;
  end.charged = t.charged;
  end.worker_death = t.worker_death;
  end.now = now;
  end.next_eligible = now + t.backoff;
  if (event == JobEvent::kFail) {
    end.error_class = request.error_class();
    end.error = t.poisoned ? t.reason : request.error();
  } else if (t.next == v1::CANCELLED) {
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
                                          request.result(), coordinator_provenance, now));
  }
  *requeued = t.next == v1::PENDING;
  LOG(INFO) << "event=report_recorded job=" << job->id << " attempt=" << request.attempt()
            << " worker=" << request.worker_id() << " outcome="
            << v1::ReportOutcome_Name(request.outcome())
            << " error_class=" << ErrorClassName(request.error_class())
            << " state=" << JobStateName(t.next)
            << (t.reason.empty() ? "" : absl::StrCat(" why=\"", t.reason, "\""));
  return v1::RECORDED;
}

absl::StatusOr<bool> Scheduler::ExpireLease(WriteTxn& txn, const JobRecord& job,
                                            absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(Transition t, DecideTransition(job.state, JobEvent::kExpire,
                                                       v1::WORKER_LOST, CountersOf(job),
                                                       options_.retry));
  AttemptEnd end;
  end.outcome = "EXPIRED";
  end.next_state = t.next;
  end.error_class = t.next == v1::CANCELLED ? v1::ERROR_CLASS_UNSPECIFIED : v1::WORKER_LOST;
  end.error = t.next == v1::CANCELLED ? "cancelled by the user" : t.reason;
  end.worker_death = t.worker_death;
  end.now = now;
  end.next_eligible = now + t.backoff;
  LLMQ_ASSIGN_OR_RETURN(bool finished, txn.FinishAttempt(FenceOf(job), end));
  LOG(WARNING) << "event=lease_expired job=" << job.id << " attempt=" << job.attempts
               << " worker=" << job.lease_worker << " state=" << JobStateName(t.next)
               << " why=\"" << t.reason << "\"";
  return finished && t.next == v1::PENDING;
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
