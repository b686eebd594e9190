#include "coordinator/sweep_eta.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "common/status.h"

namespace llmq {

double RemainingSeconds(const std::vector<EtaJob>& jobs, int workers) {
  std::vector<double> busy;
  std::vector<double> pending;
  for (const EtaJob& job : jobs) {
    if (job.running) {
      busy.push_back(std::max(0.0, job.seconds - job.elapsed));
    } else {
      pending.push_back(job.seconds);
    }
  }
  // Workers not running one of these jobs are free now.
  while (static_cast<int>(busy.size()) < std::max(1, workers)) busy.push_back(0);
  return Makespan(std::move(pending), busy);
}

v1::SweepEta EstimateEta(const std::vector<UnfinishedJobs>& unfinished,
                         const CostHistory& history, int workers, absl::Time now) {
  v1::SweepEta eta;
  std::vector<EtaJob> jobs;
  for (const UnfinishedJobs& cell : unfinished) {
    std::optional<JobCost> recorded = history.EstimateRecorded(
        cell.model, cell.method, cell.method_params, cell.task, cell.task_params);
    const double seconds = recorded.has_value()          ? recorded->seconds
                           : cell.predicted_seconds.has_value() ? *cell.predicted_seconds
                                                                : kJobOverheadSeconds;
    EtaJob job;
    job.seconds = seconds;
    job.running = cell.running;
    if (cell.running) job.elapsed = std::max(0.0, absl::ToDoubleSeconds(now - cell.running_since));
    for (int64_t i = 0; i < cell.count; ++i) jobs.push_back(job);
    eta.set_jobs(eta.jobs() + cell.count);
    if (recorded.has_value()) eta.set_jobs_recorded(eta.jobs_recorded() + cell.count);
  }
  eta.set_workers(workers);
  if (workers > 0) eta.set_remaining_seconds(RemainingSeconds(jobs, workers));
  return eta;
}

absl::StatusOr<v1::SweepEta> ReadSweepEta(ReadTxn& txn, int64_t sweep_id, absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(std::vector<UnfinishedJobs> unfinished, txn.UnfinishedJobsOf(sweep_id));
  if (unfinished.empty()) return v1::SweepEta();
  LLMQ_ASSIGN_OR_RETURN(std::vector<RecordedCost> recorded,
                        txn.RecordedCosts(/*with_memory=*/false));
  LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> workers, txn.ListWorkers());
  const int active = static_cast<int>(std::count_if(
      workers.begin(), workers.end(), [](const WorkerRow& w) { return w.worker.state == "active"; }));
  return EstimateEta(unfinished, CostHistory(recorded), active, now);
}

std::string FormatEta(const v1::SweepEta& eta) {
  if (eta.workers() <= 0) return "no active workers";
  const int64_t seconds = static_cast<int64_t>(std::llround(eta.remaining_seconds()));
  if (seconds < 1) return "<1s";
  if (seconds < 60) return absl::StrFormat("%ds", seconds);
  if (seconds < 3600) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
}

}  // namespace llmq
