#include "coordinator/metrics_page.h"

#include <map>

#include "common/status.h"
#include "common/version.h"
#include "coordinator/prometheus_text.h"
#include "storage/codec.h"

namespace llmq {

absl::StatusOr<std::string> RenderMetricsPage(Store& store, const SchedulerMetrics& metrics) {
  std::map<JobState, int64_t> jobs;
  std::map<std::string, int64_t> workers = {{"active", 0}, {"draining", 0}, {"gone", 0}};
  LLMQ_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(jobs, txn.JobCountsByState());
    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> listed, txn.ListWorkers());
    for (const WorkerRow& row : listed) ++workers[row.worker.state];
    return absl::OkStatus();
  }));
  PrometheusText out;
  out.Family("llmq_jobs", "gauge", "Jobs in the database by state.");
  for (JobState state : {JobState::kPending, JobState::kLeased, JobState::kRunning,
                         JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    auto it = jobs.find(state);
    out.Sample("llmq_jobs", {{"state", JobStateName(state)}},
               it == jobs.end() ? 0.0 : static_cast<double>(it->second));
  }
  out.Family("llmq_workers", "gauge", "Registered workers by state.");
  int64_t alive = 0;
  for (const auto& [state, count] : workers) {
    out.Sample("llmq_workers", {{"state", state}}, static_cast<double>(count));
    if (state != "gone") alive += count;
  }
  out.Family("llmq_workers_alive", "gauge", "Registered workers not gone (active or draining).");
  out.Sample("llmq_workers_alive", {}, static_cast<double>(alive));
  out.Family("llmq_leases_granted_total", "counter", "Leases granted since the coordinator started.");
  out.Sample("llmq_leases_granted_total", {}, static_cast<double>(metrics.leases_granted.load()));
  out.Family("llmq_leases_expired_total", "counter",
             "Leases that ended without a report in time, since the coordinator started.");
  out.Sample("llmq_leases_expired_total", {}, static_cast<double>(metrics.leases_expired.load()));
  out.Family("llmq_job_retries_total", "counter",
             "Leases granted for a job's second or later attempt, since the coordinator started.");
  out.Sample("llmq_job_retries_total", {}, static_cast<double>(metrics.retries.load()));
  out.Histogram("llmq_queue_wait_seconds",
                "From a job becoming eligible (submitted, or requeued after its backoff) to its lease.",
                metrics.queue_wait_seconds.Read());
  out.Histogram("llmq_job_duration_seconds",
                "A succeeded attempt, from its lease to its recorded result.",
                metrics.job_duration_seconds.Read());
  out.Histogram("llmq_db_commit_seconds", "One group commit of the SQLite writer.",
                store.commit_seconds());
  out.Family("llmq_build_info", "gauge", "The coordinator's llmq version.");
  out.Sample("llmq_build_info", {{"version", kLlmqVersion}}, 1);
  return out.text();
}

}  // namespace llmq
