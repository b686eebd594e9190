#include "storage/read_txn.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "storage/codec.h"
#include "storage/records.h"
#include "storage/worker_columns.h"

namespace llmq {

absl::Status ReadTxn::FillJobCounts(SweepRow* sweep) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement counts,
      db_.Prepare("SELECT j.state, COUNT(*) FROM sweep_jobs sj JOIN jobs j ON j.id = sj.job_id "
                  "WHERE sj.sweep_id = ? GROUP BY j.state"));
  counts.BindAll(sweep->id);
  int64_t total = 0;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, counts.Step());
    if (!row) break;
    sweep->jobs_by_state[ParseJobState(counts.Text(0))] += counts.Int(1);
    total += counts.Int(1);
  }
  sweep->jobs_total = total;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SweepRow>> ReadTxn::ListSweeps() {
  std::vector<SweepRow> sweeps;
  {
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                          db_.Prepare("SELECT id, name, created_ms FROM sweeps ORDER BY id"));
    while (true) {
      LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      SweepRow& sweep = sweeps.emplace_back();
      sweep.id = select.Int(0);
      sweep.name = select.Text(1);
      sweep.created = FromMillis(select.Int(2));
    }
  }
  for (SweepRow& sweep : sweeps) LLMQ_RETURN_IF_ERROR(FillJobCounts(&sweep));
  return sweeps;
}

absl::StatusOr<std::optional<SweepRow>> ReadTxn::GetSweep(int64_t sweep_id) {
  SweepRow sweep;
  {
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                          db_.Prepare("SELECT id, name, created_ms FROM sweeps WHERE id = ?"));
    select.BindAll(sweep_id);
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return std::optional<SweepRow>();
    sweep.id = select.Int(0);
    sweep.name = select.Text(1);
    sweep.created = FromMillis(select.Int(2));
  }
  LLMQ_RETURN_IF_ERROR(FillJobCounts(&sweep));
  return std::make_optional(std::move(sweep));
}

absl::StatusOr<std::vector<JobRow>> ReadTxn::ListJobs(const JobFilter& filter) {
  std::optional<std::string> states;
  if (!filter.states.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (JobState state : filter.states) names.push_back(JobStateName(state));
    states = names.dump();
  }
  // Leased and running jobs all hold a lease: the small partial index on open leases
  // finds them without visiting the sweep's other jobs (what `submit --wait` polls).
  bool leased_only = !filter.states.empty();
  for (JobState state : filter.states) {
    leased_only &= state == JobState::kLeased || state == JobState::kRunning;
  }
  static const std::string kColumns =
      "SELECT j.id, j.spec, j.state, j.attempts, "
      "COALESCE(j.lease_worker, r.worker_id, ''), j.progress_stage, j.progress_step, "
      "j.progress_total, j.progress_message, j.error, j.error_class, j.updated_ms ";
  static const std::string kStates =
      "AND (?2 IS NULL OR j.state IN (SELECT value FROM json_each(?2))) "
      "ORDER BY j.id LIMIT ?3";
  static const std::string kAll =
      kColumns + "FROM jobs j LEFT JOIN results r ON r.job_id = j.id "
      "WHERE (?1 = 0 OR j.id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ?1)) " + kStates;
  static const std::string kLeased =
      kColumns + "FROM jobs j INDEXED BY jobs_leases LEFT JOIN results r ON r.job_id = j.id "
      "WHERE j.lease_id IS NOT NULL AND (?1 = 0 OR EXISTS (SELECT 1 FROM sweep_jobs s "
      "WHERE s.sweep_id = ?1 AND s.job_id = j.id)) " + kStates;
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select, db_.Prepare(leased_only ? kLeased : kAll));
  select.BindAll(filter.sweep_id, states,
                 static_cast<int64_t>(filter.limit > 0 ? filter.limit : -1));
  std::vector<JobRow> jobs;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    JobRow& job = jobs.emplace_back();
    job.id = select.Int(0);
    job.spec = select.Bytes(1);
    job.state = ParseJobState(select.Text(2));
    job.attempts = static_cast<int>(select.Int(3));
    job.worker_id = select.Text(4);
    job.progress.stage = select.Text(5);
    job.progress.step = select.Int(6);
    job.progress.total = select.Int(7);
    job.progress.message = select.Text(8);
    job.error = select.Text(9);
    job.error_class = ParseErrorClass(select.Text(10));
    job.updated = FromMillis(select.Int(11));
  }
  return jobs;
}

absl::StatusOr<std::vector<ResultRow>> ReadTxn::QueryResults(const ResultsFilter& filter) {
  std::string sweep_name;
  if (filter.sweep_id != 0) {
    LLMQ_ASSIGN_OR_RETURN(auto sweep, GetSweep(filter.sweep_id));
    if (!sweep.has_value()) {
      return absl::NotFoundError(absl::StrCat("no sweep ", filter.sweep_id));
    }
    sweep_name = sweep->name;
  }
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT j.id, j.spec, r.result, r.worker_id, r.finished_ms, r.provenance, "
                  "CASE WHEN ?5 THEN (SELECT scores FROM example_scores e WHERE e.job_id = j.id) END "
                  "FROM jobs j JOIN results r ON r.job_id = j.id "
                  "WHERE (?1 = 0 OR j.id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ?1)) "
                  "AND (?2 = '' OR j.model = ?2) AND (?3 = '' OR j.method = ?3) "
                  "AND (?4 = '' OR j.task = ?4) AND j.state = 'SUCCEEDED' ORDER BY j.id"));
  select.BindAll(filter.sweep_id, filter.model, filter.method, filter.task,
                 filter.with_example_scores);
  std::vector<ResultRow> rows;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ResultRow& result = rows.emplace_back();
    result.job_id = select.Int(0);
    result.spec = select.Bytes(1);
    result.result = select.Bytes(2);
    result.worker_id = select.Text(3);
    result.finished = FromMillis(select.Int(4));
    // The stored provenance includes the coordinator's additions (attempt, job key).
    result.provenance = JsonToStringMap(select.Text(5));
    result.sweep_name = sweep_name;
    if (!select.IsNull(6)) result.example_scores = select.Bytes(6);
  }
  return rows;
}

absl::StatusOr<std::vector<RecordedCost>> ReadTxn::RecordedCosts(bool with_memory) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT j.model, j.method, j.method_params, j.task, j.task_params, "
                  "r.wall_seconds, "
                  "CASE WHEN ?1 THEN (SELECT MAX(value) FROM metrics m WHERE m.job_id = j.id "
                  "AND m.name IN ('peak_rss_bytes', 'quantize_peak_rss_bytes', "
                  "'cuda_peak_reserved_bytes', 'quantize_cuda_peak_reserved_bytes')) END, "
                  "CASE WHEN ?1 THEN (SELECT COUNT(*) FROM metrics m WHERE m.job_id = j.id) "
                  "ELSE 0 END "
                  "FROM jobs j JOIN results r ON r.job_id = j.id WHERE j.state = 'SUCCEEDED' "
                  "ORDER BY j.id"));
  select.BindAll(with_memory);
  std::vector<RecordedCost> costs;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    RecordedCost& cost = costs.emplace_back();
    cost.model = select.Text(0);
    cost.method = select.Text(1);
    cost.method_params = select.Text(2);
    cost.task = select.Text(3);
    cost.task_params = select.Text(4);
    cost.wall_seconds = select.Double(5);
    cost.peak_bytes = select.IsNull(6) ? 0 : static_cast<int64_t>(select.Double(6));
    cost.metrics = select.Int(7);
  }
  return costs;
}

absl::StatusOr<std::vector<SweepCostRow>> ReadTxn::SweepCosts(int64_t sweep_id) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT j.model, j.method, COUNT(*), COUNT(r.job_id), "
                  "SUM(j.predicted_seconds), "
                  "TOTAL(CASE WHEN r.job_id IS NOT NULL THEN j.predicted_seconds END), "
                  "TOTAL(r.wall_seconds) "
                  "FROM sweep_jobs sj JOIN jobs j ON j.id = sj.job_id "
                  "LEFT JOIN results r ON r.job_id = j.id AND j.state = 'SUCCEEDED' "
                  "WHERE sj.sweep_id = ? AND j.predicted_seconds IS NOT NULL "
                  "GROUP BY j.model, j.method ORDER BY MIN(j.id)"));
  select.BindAll(sweep_id);
  std::vector<SweepCostRow> rows;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    SweepCostRow& cost = rows.emplace_back();
    cost.model = select.Text(0);
    cost.method = select.Text(1);
    cost.jobs = select.Int(2);
    cost.finished = select.Int(3);
    cost.predicted_seconds = select.Double(4);
    cost.predicted_finished = select.Double(5);
    cost.actual_seconds = select.Double(6);
  }
  return rows;
}

absl::StatusOr<std::vector<UnfinishedJobs>> ReadTxn::UnfinishedJobsOf(int64_t sweep_id) {
  std::vector<UnfinishedJobs> unfinished;
  auto read_cell = [&](const sqlite::Statement& row, bool running) -> UnfinishedJobs& {
    UnfinishedJobs& jobs = unfinished.emplace_back();
    jobs.model = row.Text(0);
    jobs.method = row.Text(1);
    jobs.method_params = row.Text(2);
    jobs.task = row.Text(3);
    jobs.task_params = row.Text(4);
    jobs.running = running;
    jobs.count = row.Int(5);
    if (!row.IsNull(6)) jobs.predicted_seconds = row.Double(6);
    return jobs;
  };
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement pending,
        db_.Prepare("SELECT j.model, j.method, j.method_params, j.task, j.task_params, "
                    "COUNT(*), AVG(j.predicted_seconds) "
                    "FROM sweep_jobs sj JOIN jobs j ON j.id = sj.job_id "
                    "WHERE sj.sweep_id = ? AND j.state = 'PENDING' "
                    "GROUP BY j.model, j.method, j.method_params, j.task, j.task_params "
                    "ORDER BY MIN(j.id)"));
    pending.BindAll(sweep_id);
    while (true) {
      LLMQ_ASSIGN_OR_RETURN(bool row, pending.Step());
      if (!row) break;
      read_cell(pending, /*running=*/false);
    }
  }
  // Open leases are few: the partial index on them finds these without a scan.
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement running,
      db_.Prepare("SELECT j.model, j.method, j.method_params, j.task, j.task_params, 1, "
                  "j.predicted_seconds, COALESCE(j.started_ms, j.updated_ms) "
                  "FROM jobs j INDEXED BY jobs_leases WHERE j.lease_id IS NOT NULL "
                  "AND j.state IN ('LEASED', 'RUNNING') AND EXISTS (SELECT 1 FROM sweep_jobs s WHERE s.sweep_id = ? AND s.job_id = j.id) "
                  "ORDER BY j.id"));
  running.BindAll(sweep_id);
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, running.Step());
    if (!row) break;
    read_cell(running, /*running=*/true).running_since = FromMillis(running.Int(7));
  }
  return unfinished;
}

absl::StatusOr<std::map<JobState, int64_t>> ReadTxn::JobCountsByState() {
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement counts,
                        db_.Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  std::map<JobState, int64_t> by_state;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, counts.Step());
    if (!row) break;
    by_state[ParseJobState(counts.Text(0))] += counts.Int(1);
  }
  return by_state;
}

absl::StatusOr<std::vector<WorkerRow>> ReadTxn::ListWorkers() {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT w.id, w.host, w.devices, w.memory_bytes, w.labels, w.version, "
                  "w.state, w.last_seen_ms, (SELECT MIN(j.id) FROM jobs j WHERE "
                  "j.lease_id IS NOT NULL AND j.lease_worker = w.id), w.slurm_job_id, "
                  "w.slurm_array_job_id, w.slurm_array_task_id FROM workers w "
                  "ORDER BY w.registered_ms, w.id"));
  std::vector<WorkerRow> workers;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    WorkerRow& listed = workers.emplace_back();
    WorkerRecord& worker = listed.worker;
    worker.id = select.Text(0);
    worker.host = select.Text(1);
    worker.devices = JsonToStringList(select.Text(2));
    worker.memory_bytes = select.Int(3);
    worker.labels = JsonToStringMap(select.Text(4));
    worker.version = select.Text(5);
    worker.state = select.Text(6);
    listed.last_seen = FromMillis(select.Int(7));
    if (!select.IsNull(8)) listed.current_job_id = select.Int(8);
    worker.slurm = SlurmJobColumns(select, 9);
  }
  return workers;
}

absl::StatusOr<std::optional<JobState>> ReadTxn::JobStateByKey(const std::string& job_key) {
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                        db_.Prepare("SELECT state FROM jobs WHERE job_key = ?"));
  select.BindAll(job_key);
  LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<JobState>();
  return std::make_optional(ParseJobState(select.Text(0)));
}

}  // namespace llmq
