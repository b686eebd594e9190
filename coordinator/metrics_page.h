// `/metrics`: the coordinator in Prometheus' text format (coordinator/prometheus_text.h).
// What the database knows (jobs by state, workers by state) is read from one snapshot at
// scrape time, so it equals what `llmq-coord status` and `sqlite3` show; what happens
// between scrapes (leases, expiries, retries, waits, durations, commits) is counted by
// the scheduler and the store since the process started.
//
//   llmq_jobs{state}                   gauge      jobs in each state (every state listed)
//   llmq_workers{state}                gauge      registered workers: active, draining, gone
//   llmq_workers_alive                 gauge      workers not gone
//   llmq_leases_granted_total          counter
//   llmq_leases_expired_total          counter    leases that ended without a report in time
//   llmq_job_retries_total             counter    leases of a job's second or later attempt
//   llmq_queue_wait_seconds            histogram  eligible to leased
//   llmq_job_duration_seconds          histogram  a succeeded attempt, leased to recorded
//   llmq_db_commit_seconds             histogram  one group commit of the SQLite writer
//   llmq_build_info{version}           gauge      1
#ifndef LLMQ_COORDINATOR_METRICS_PAGE_H_
#define LLMQ_COORDINATOR_METRICS_PAGE_H_

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/scheduler_metrics.h"
#include "storage/store.h"

namespace llmq {

inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

absl::StatusOr<std::string> RenderMetricsPage(Store& store, const SchedulerMetrics& metrics);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_METRICS_PAGE_H_
