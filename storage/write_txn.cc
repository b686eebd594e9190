// WriteTxn: sweeps, jobs, results and the pivot-column registry, then leases and workers.
#include "storage/write_txn.h"

#include <glog/logging.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "storage/codec.h"
#include "storage/job_columns.h"
#include "storage/schema.h"
#include "storage/worker_columns.h"

namespace llmq {

absl::StatusOr<int64_t> WriteTxn::InsertSweep(const std::string& name,
                                              const std::string& grid_yaml,
                                              const std::string& grid_path, absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement insert,
      db_.Prepare("INSERT INTO sweeps (name, grid_yaml, grid_path, created_ms) "
                  "VALUES (?, ?, ?, ?)"));
  LLMQ_RETURN_IF_ERROR(insert.BindAll(name, grid_yaml, grid_path, ToMillis(now)).Run());
  return db_.last_insert_rowid();
}

absl::StatusOr<WriteTxn::AddedJob> WriteTxn::AddJob(int64_t sweep_id, const NewJob& job,
                                                    int max_attempts, absl::Time now) {
  if (job.job_key.empty()) return absl::InvalidArgumentError("job spec has no job_key");
  AddedJob added;
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare(
            "INSERT INTO jobs (sweep_id, job_key, quant_key, state, priority, max_attempts, "
            "device, memory_bytes, timeout_seconds, model, model_path, dtype, method, "
            "method_params, task, task_params, calibration, repeat, spec, next_eligible_ms, "
            "created_ms, updated_ms, predicted_seconds) "
            "VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job_key) DO NOTHING"));
    const std::string device = job.device.empty() ? "any" : job.device;
    insert.BindAll(sweep_id, job.job_key, job.quant_key, job.priority, max_attempts, device,
                   job.memory_bytes, job.timeout_seconds, job.model, job.model_path, job.dtype,
                   job.method, ParamsToJson(job.method_params), job.task,
                   ParamsToJson(job.task_params), CalibrationToJson(job.calibration), job.repeat,
                   sqlite::Blob{job.spec}, ToMillis(now), ToMillis(now), ToMillis(now),
                   job.predicted_seconds);
    LLMQ_RETURN_IF_ERROR(insert.Run());
  }
  if (db_.changes() == 1) {
    added.job_id = db_.last_insert_rowid();
    added.inserted = true;
    std::vector<std::string> method_names, task_names;
    for (const auto& [name, value] : job.method_params) method_names.push_back(name);
    for (const auto& [name, value] : job.task_params) task_names.push_back(name);
    LLMQ_RETURN_IF_ERROR(NotePivotNames("method_param", method_names));
    LLMQ_RETURN_IF_ERROR(NotePivotNames("task_param", task_names));
  } else {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement existing,
        db_.Prepare("UPDATE jobs SET priority = MAX(priority, ?) WHERE job_key = ? "
                    "RETURNING id, state"));
    existing.BindAll(job.priority, job.job_key);
    LLMQ_ASSIGN_OR_RETURN(bool row, existing.Step());
    if (!row) return absl::InternalError(absl::StrCat("job ", job.job_key, " vanished"));
    added.job_id = existing.Int(0);
    added.existing_state = ParseJobState(existing.Text(1));
    LLMQ_RETURN_IF_ERROR(existing.Run());
  }
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement link,
      db_.Prepare("INSERT OR IGNORE INTO sweep_jobs (sweep_id, job_id) VALUES (?, ?)"));
  LLMQ_RETURN_IF_ERROR(link.BindAll(sweep_id, added.job_id).Run());
  return added;
}

namespace {

std::string StatesJson(const std::vector<JobState>& states) {
  nlohmann::json names = nlohmann::json::array();
  for (JobState state : states) names.push_back(JobStateName(state));
  return names.dump();
}

}  // namespace

absl::StatusOr<int64_t> WriteTxn::RequeueJobs(int64_t sweep_id,
                                              const std::vector<int64_t>& job_ids,
                                              const std::vector<JobState>& from_states,
                                              absl::Time now) {
  // Which jobs: members of the sweep, in one of `from_states`, optionally in `job_ids`.
  constexpr char kSelected[] =
      "id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ?1) "
      "AND state IN (SELECT value FROM json_each(?2)) "
      "AND (?3 IS NULL OR id IN (SELECT value FROM json_each(?3)))";
  std::optional<std::string> ids;
  if (!job_ids.empty()) ids = nlohmann::json(job_ids).dump();
  const std::string states = StatesJson(from_states);
  {
    // A cancelled job may still have an open attempt; it ends here, and the worker
    // learns at its next heartbeat that the lease is gone.
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement close,
        db_.Prepare(absl::StrCat(
            "UPDATE attempts SET outcome = 'CANCELLED', ended_ms = ?4 WHERE outcome = 'OPEN' "
            "AND (job_id, attempt) IN (SELECT id, attempts FROM jobs WHERE lease_id IS NOT NULL "
            "AND ",
            kSelected, ")")));
    LLMQ_RETURN_IF_ERROR(close.BindAll(sweep_id, states, ids, ToMillis(now)).Run());
  }
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement requeue,
      db_.Prepare(absl::StrCat(
          "UPDATE jobs SET state = 'PENDING', failures = 0, worker_deaths = 0, "
          "next_eligible_ms = ?4, error = '', error_class = '', memory_hint_bytes = 0, "
          "memory_hint_until_ms = 0, lease_id = NULL, lease_worker = NULL, "
          "lease_expires_ms = NULL, updated_ms = ?4, finished_ms = NULL WHERE ",
          kSelected)));
  LLMQ_RETURN_IF_ERROR(requeue.BindAll(sweep_id, states, ids, ToMillis(now)).Run());
  return db_.changes();
}

absl::StatusOr<int64_t> WriteTxn::CancelJobs(int64_t sweep_id,
                                             const std::vector<JobState>& from_states,
                                             absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement cancel,
      db_.Prepare("UPDATE jobs SET state = 'CANCELLED', updated_ms = ?3, finished_ms = ?3 "
                  "WHERE id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ?1) "
                  "AND state IN (SELECT value FROM json_each(?2))"));
  LLMQ_RETURN_IF_ERROR(
      cancel.BindAll(sweep_id, StatesJson(from_states), ToMillis(now)).Run());
  return db_.changes();
}

absl::StatusOr<std::optional<JobRecord>> WriteTxn::GetJob(int64_t job_id) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare(absl::StrCat("SELECT ", kJobRecordColumns, " FROM jobs WHERE id = ?")));
  select.BindAll(job_id);
  LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<JobRecord>();
  return std::optional<JobRecord>(ReadJobRecord(select));
}

absl::Status WriteTxn::InsertResult(int64_t job_id, int attempt, const std::string& worker_id,
                                    const ResultRecord& result,
                                    const std::map<std::string, std::string>& extra_provenance,
                                    absl::Time now) {
  std::map<std::string, std::string> provenance = result.provenance;
  for (const auto& [key, value] : extra_provenance) provenance[key] = value;
  double wall_seconds = 0;
  for (const ResultRecord::Timing& timing : result.timings) wall_seconds += timing.seconds;
  const std::string provenance_json = StringMapToJson(provenance);
  const std::string timings_json = TimingsToJson(result.timings);
  for (int round = 0; round < 2; ++round) {
    {
      LLMQ_ASSIGN_OR_RETURN(
          sqlite::Statement insert,
          db_.Prepare("INSERT INTO results (job_id, attempt, worker_id, finished_ms, "
                      "wall_seconds, provenance, timings, result) VALUES (?,?,?,?,?,?,?,?) "
                      "ON CONFLICT(job_id) DO NOTHING"));
      insert.BindAll(job_id, attempt, worker_id, ToMillis(now), wall_seconds, provenance_json,
                     timings_json, sqlite::Blob{result.result});
      LLMQ_RETURN_IF_ERROR(insert.Run());
    }
    if (db_.changes() == 1) break;
    // The state machine lets a job succeed once; should it ever succeed again, the newer
    // result replaces the older one rather than mixing their metrics.
    for (const char* sql : {"DELETE FROM metrics WHERE job_id = ?",
                            "DELETE FROM example_scores WHERE job_id = ?",
                            "DELETE FROM results WHERE job_id = ?"}) {
      LLMQ_ASSIGN_OR_RETURN(sqlite::Statement erase, db_.Prepare(sql));
      LLMQ_RETURN_IF_ERROR(erase.BindAll(job_id).Run());
    }
  }
  std::vector<std::string> names;
  for (const ResultRecord::Metric& metric : result.metrics) {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare("INSERT OR REPLACE INTO metrics (job_id, name, value, unit, ci_low, ci_high) "
                    "VALUES (?, ?, ?, ?, ?, ?)"));
    LLMQ_RETURN_IF_ERROR(insert
                             .BindAll(job_id, metric.name, metric.value, metric.unit,
                                      metric.ci_low, metric.ci_high)
                             .Run());
    names.push_back(metric.name);
  }
  if (!result.example_scores.empty()) {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare("INSERT OR REPLACE INTO example_scores (job_id, examples, scores) "
                    "VALUES (?, ?, ?)"));
    LLMQ_RETURN_IF_ERROR(
        insert.BindAll(job_id, result.examples, sqlite::Blob{result.example_scores}).Run());
  }
  return NotePivotNames("metric", names);
}

absl::Status WriteTxn::NotePivotNames(const std::string& kind,
                                      const std::vector<std::string>& names) {
  bool added = false;
  for (const std::string& name : names) {
    if (known_pivot_names_->count({kind, name})) continue;
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare("INSERT OR IGNORE INTO pivot_columns (kind, name) VALUES (?, ?)"));
    LLMQ_RETURN_IF_ERROR(insert.BindAll(kind, name).Run());
    known_pivot_names_->insert({kind, name});
    added_pivot_names_.push_back({kind, name});
    added = true;
  }
  if (!added) return absl::OkStatus();
  VLOG(1) << "event=pivot_view_regenerated kind=" << kind;
  return RegenerateJobsView(db_);
}

}  // namespace llmq

// WriteTxn: claiming jobs, renewing and finishing leases, and the workers table.
namespace llmq {
namespace {

// The eligibility filter shared by both pick queries. Parameters:
// ?1 now, ?2 has_cpu, ?3 has_cuda, ?4 free memory (0 = unknown).
constexpr char kEligible[] =
    "state = 'PENDING' AND next_eligible_ms <= ?1 "
    "AND (device = 'any' OR (device = 'cpu' AND ?2) OR (device = 'cuda' AND ?3)) "
    "AND (?4 = 0 OR memory_bytes <= ?4) "
    "AND (memory_hint_until_ms <= ?1 OR ?4 = 0 OR memory_hint_bytes < ?4)";

}  // namespace

absl::StatusOr<std::optional<std::pair<int64_t, int>>> WriteTxn::PickJob(
    const ClaimRequest& request, std::optional<int> priority) {
  static const std::string kBest = absl::StrCat(
      "SELECT id, priority FROM jobs WHERE ", kEligible,
      " ORDER BY priority DESC, next_eligible_ms, id LIMIT 1");
  // ?5 the worker's cached quant keys (JSON array), ?6 the priority to match. Forced onto
  // the affinity index (few jobs share a quant key): the queue index would scan every
  // pending job of that priority.
  static const std::string kCached = absl::StrCat(
      "SELECT id, priority FROM jobs INDEXED BY jobs_affinity WHERE quant_key IN (SELECT value FROM json_each(?5)) "
      "AND priority = ?6 AND ",
      kEligible, " ORDER BY next_eligible_ms, id LIMIT 1");
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement pick,
                        db_.Prepare(priority.has_value() ? kCached : kBest));
  pick.BindAll(ToMillis(request.now), request.has_cpu, request.has_cuda,
               request.free_memory_bytes);
  if (priority.has_value()) {
    pick.Bind(5, StringListToJson(request.cached_quant_keys));
    pick.Bind(6, *priority);
  }
  LLMQ_ASSIGN_OR_RETURN(bool row, pick.Step());
  if (!row) return std::optional<std::pair<int64_t, int>>();
  return std::make_optional(std::make_pair(pick.Int(0), static_cast<int>(pick.Int(1))));
}

absl::StatusOr<std::optional<ClaimedJob>> WriteTxn::ClaimNextJob(const ClaimRequest& request) {
  LLMQ_ASSIGN_OR_RETURN(auto best, PickJob(request, std::nullopt));
  if (!best.has_value()) return std::optional<ClaimedJob>();
  bool affinity_hit = false;
  if (!request.cached_quant_keys.empty()) {
    LLMQ_ASSIGN_OR_RETURN(auto cached, PickJob(request, best->second));
    if (cached.has_value()) {
      affinity_hit = true;
      best = cached;
    }
  }
  ClaimedJob claimed;
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement lease,
        db_.Prepare("UPDATE jobs SET state = 'LEASED', attempts = attempts + 1, lease_id = ?1, "
                    "lease_worker = ?2, lease_expires_ms = ?3, updated_ms = ?4, "
                    "started_ms = NULL, progress_stage = '', progress_step = 0, "
                    "progress_total = 0, progress_message = '' "
                    "WHERE id = ?5 AND state = 'PENDING' "
                    "RETURNING attempts, quant_key, spec, next_eligible_ms"));
    lease.BindAll(request.lease_id, request.worker_id, ToMillis(request.lease_expires),
                  ToMillis(request.now), best->first);
    LLMQ_ASSIGN_OR_RETURN(bool row, lease.Step());
    if (!row) return absl::InternalError(absl::StrCat("job ", best->first, " left PENDING"));
    claimed.job_id = best->first;
    claimed.attempt = static_cast<int>(lease.Int(0));
    claimed.quant_key = lease.Text(1);
    claimed.spec = lease.Bytes(2);
    claimed.eligible_since = FromMillis(lease.Int(3));
    LLMQ_RETURN_IF_ERROR(lease.Run());
  }
  claimed.lease_id = request.lease_id;
  claimed.lease_expires = request.lease_expires;
  claimed.affinity_hit = affinity_hit;
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement attempt,
      db_.Prepare("INSERT INTO attempts (job_id, attempt, lease_id, worker_id, "
                  "free_memory_bytes, leased_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  LLMQ_RETURN_IF_ERROR(attempt
                           .BindAll(claimed.job_id, claimed.attempt, claimed.lease_id,
                                    request.worker_id, request.free_memory_bytes,
                                    ToMillis(request.now))
                           .Run());
  return std::make_optional(std::move(claimed));
}

absl::StatusOr<std::optional<AttemptRecord>> WriteTxn::GetAttempt(int64_t job_id,
                                                                  int attempt_number) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT job_id, attempt, lease_id, worker_id, free_memory_bytes, outcome, "
                  "leased_ms FROM attempts WHERE job_id = ? AND attempt = ?"));
  select.BindAll(job_id, attempt_number);
  LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<AttemptRecord>();
  AttemptRecord attempt;
  attempt.job_id = select.Int(0);
  attempt.attempt = static_cast<int>(select.Int(1));
  attempt.lease_id = select.Text(2);
  attempt.worker_id = select.Text(3);
  attempt.free_memory_bytes = select.Int(4);
  attempt.outcome = select.Text(5);
  attempt.leased = FromMillis(select.Int(6));
  return std::make_optional(std::move(attempt));
}

absl::StatusOr<bool> WriteTxn::RenewLease(const LeaseFence& fence, absl::Time expires,
                                          const JobProgress& progress, bool start,
                                          absl::Time now) {
  {
    // ?6 = whether the heartbeat carried progress; without it the old progress stays.
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement renew,
        db_.Prepare(
            "UPDATE jobs SET lease_expires_ms = ?1, updated_ms = ?2, "
            "state = CASE WHEN ?3 AND state = 'LEASED' THEN 'RUNNING' ELSE state END, "
            "started_ms = CASE WHEN ?3 AND state = 'LEASED' THEN ?2 ELSE started_ms END, "
            "progress_stage = CASE WHEN ?6 THEN ?7 ELSE progress_stage END, "
            "progress_step = CASE WHEN ?6 THEN ?8 ELSE progress_step END, "
            "progress_total = CASE WHEN ?6 THEN ?9 ELSE progress_total END, "
            "progress_message = CASE WHEN ?6 THEN ?10 ELSE progress_message END "
            "WHERE id = ?4 AND lease_id = ?5 AND attempts = ?11"));
    renew.BindAll(ToMillis(expires), ToMillis(now), start, fence.job_id, fence.lease_id,
                  !progress.stage.empty(), progress.stage, progress.step, progress.total,
                  progress.message, fence.attempt);
    LLMQ_RETURN_IF_ERROR(renew.Run());
  }
  if (db_.changes() == 0) return false;
  if (start) {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement started,
        db_.Prepare("UPDATE attempts SET started_ms = ? WHERE job_id = ? AND attempt = ? "
                    "AND started_ms IS NULL"));
    LLMQ_RETURN_IF_ERROR(started.BindAll(ToMillis(now), fence.job_id, fence.attempt).Run());
  }
  return true;
}

absl::StatusOr<bool> WriteTxn::FinishAttempt(const LeaseFence& fence, const AttemptEnd& end) {
  const bool terminal = end.next_state == JobState::kSucceeded ||
                        end.next_state == JobState::kFailed ||
                        end.next_state == JobState::kCancelled;
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement finish,
        db_.Prepare(
            "UPDATE jobs SET state = ?1, lease_id = NULL, lease_worker = NULL, "
            "lease_expires_ms = NULL, failures = failures + ?2, "
            "worker_deaths = worker_deaths + ?3, next_eligible_ms = ?4, error = ?5, "
            "error_class = ?6, memory_hint_bytes = MAX(memory_hint_bytes, ?7), "
            "memory_hint_until_ms = MAX(memory_hint_until_ms, ?8), updated_ms = ?9, "
            "finished_ms = CASE WHEN ?10 THEN ?9 ELSE NULL END "
            "WHERE id = ?11 AND lease_id = ?12 AND attempts = ?13"));
    const int64_t hint_until =
        end.memory_hint_until == absl::InfinitePast() ? 0 : ToMillis(end.memory_hint_until);
    const int64_t eligible =
        end.next_eligible == absl::InfinitePast() ? ToMillis(end.now) : ToMillis(end.next_eligible);
    finish.BindAll(JobStateName(end.next_state), end.charged ? 1 : 0, end.worker_death ? 1 : 0,
                   eligible, end.error, ErrorClassName(end.error_class), end.memory_hint_bytes,
                   hint_until, ToMillis(end.now), terminal, fence.job_id, fence.lease_id,
                   fence.attempt);
    LLMQ_RETURN_IF_ERROR(finish.Run());
  }
  if (db_.changes() == 0) return false;
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement close,
      db_.Prepare("UPDATE attempts SET ended_ms = ?, outcome = ?, error_class = ?, error = ? "
                  "WHERE job_id = ? AND attempt = ?"));
  LLMQ_RETURN_IF_ERROR(close
                           .BindAll(ToMillis(end.now), end.outcome,
                                    ErrorClassName(end.error_class), end.error, fence.job_id,
                                    fence.attempt)
                           .Run());
  return true;
}

absl::StatusOr<std::vector<JobRecord>> WriteTxn::ListExpiredLeases(absl::Time now, int limit) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare(absl::StrCat("SELECT ", kJobRecordColumns,
                               " FROM jobs WHERE lease_id IS NOT NULL AND lease_expires_ms <= ?"
                               " ORDER BY lease_expires_ms LIMIT ?")));
  select.BindAll(ToMillis(now), limit);
  std::vector<JobRecord> jobs;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(ReadJobRecord(select));
  }
  return jobs;
}

absl::StatusOr<std::vector<JobRecord>> WriteTxn::ListLeasesOfWorker(
    const std::string& worker_id) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare(absl::StrCat("SELECT ", kJobRecordColumns,
                               " FROM jobs WHERE lease_id IS NOT NULL AND lease_worker = ?")));
  select.BindAll(worker_id);
  std::vector<JobRecord> jobs;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(ReadJobRecord(select));
  }
  return jobs;
}

absl::StatusOr<int64_t> WriteTxn::RearmOpenLeases(absl::Time expires) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement rearm,
      db_.Prepare("UPDATE jobs SET lease_expires_ms = MAX(lease_expires_ms, ?) "
                  "WHERE lease_id IS NOT NULL"));
  LLMQ_RETURN_IF_ERROR(rearm.BindAll(ToMillis(expires)).Run());
  return db_.changes();
}

// ---------------------------------------------------------------------------------------
// Workers

absl::Status WriteTxn::UpsertWorker(const WorkerRecord& worker, absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement upsert,
      db_.Prepare("INSERT INTO workers (id, host, devices, memory_bytes, labels, version, "
                  "state, registered_ms, last_seen_ms, slurm_job_id, slurm_array_job_id, "
                  "slurm_array_task_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?8,?9,?10,?11) "
                  "ON CONFLICT(id) DO UPDATE SET host = excluded.host, "
                  "devices = excluded.devices, memory_bytes = excluded.memory_bytes, "
                  "labels = excluded.labels, version = excluded.version, "
                  "state = excluded.state, last_seen_ms = excluded.last_seen_ms, "
                  "slurm_job_id = excluded.slurm_job_id, "
                  "slurm_array_job_id = excluded.slurm_array_job_id, "
                  "slurm_array_task_id = excluded.slurm_array_task_id"));
  std::optional<int64_t> slurm_job, array_job, array_task;
  if (worker.slurm.has_value()) {
    slurm_job = worker.slurm->job_id;
    if (worker.slurm->array_job_id != 0) {
      array_job = worker.slurm->array_job_id;
      array_task = worker.slurm->array_task_id;
    }
  }
  return upsert
      .BindAll(worker.id, worker.host, StringListToJson(worker.devices), worker.memory_bytes,
               StringMapToJson(worker.labels), worker.version, worker.state, ToMillis(now),
               slurm_job, array_job, array_task)
      .Run();
}

absl::StatusOr<std::optional<WorkerRecord>> WriteTxn::GetWorker(const std::string& worker_id) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT id, host, devices, memory_bytes, labels, version, state, "
                  "slurm_job_id, slurm_array_job_id, slurm_array_task_id "
                  "FROM workers WHERE id = ?"));
  select.BindAll(worker_id);
  LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<WorkerRecord>();
  WorkerRecord worker;
  worker.id = select.Text(0);
  worker.host = select.Text(1);
  worker.devices = JsonToStringList(select.Text(2));
  worker.memory_bytes = select.Int(3);
  worker.labels = JsonToStringMap(select.Text(4));
  worker.version = select.Text(5);
  worker.state = select.Text(6);
  worker.slurm = SlurmJobColumns(select, 7);
  return std::make_optional(std::move(worker));
}

absl::Status WriteTxn::TouchWorker(const std::string& worker_id, absl::Time now,
                                   bool revive) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement touch,
      db_.Prepare("UPDATE workers SET last_seen_ms = ?1, "
                  "state = CASE WHEN ?3 AND state = 'gone' THEN 'active' ELSE state END "
                  "WHERE id = ?2"));
  return touch.BindAll(ToMillis(now), worker_id, revive).Run();
}

absl::StatusOr<int64_t> WriteTxn::RefreshActiveWorkers(absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement refresh,
      db_.Prepare("UPDATE workers SET last_seen_ms = MAX(last_seen_ms, ?) "
                  "WHERE state != 'gone'"));
  LLMQ_RETURN_IF_ERROR(refresh.BindAll(ToMillis(now)).Run());
  return db_.changes();
}

absl::Status WriteTxn::SetWorkerState(const std::string& worker_id, const std::string& state,
                                      absl::Time now) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement update,
      db_.Prepare("UPDATE workers SET state = ?, last_seen_ms = ? WHERE id = ?"));
  return update.BindAll(state, ToMillis(now), worker_id).Run();
}

absl::StatusOr<int64_t> WriteTxn::MarkSilentWorkersGone(absl::Time cutoff) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement update,
      db_.Prepare("UPDATE workers SET state = 'gone' WHERE state != 'gone' "
                  "AND last_seen_ms < ?"));
  LLMQ_RETURN_IF_ERROR(update.BindAll(ToMillis(cutoff)).Run());
  return db_.changes();
}

}  // namespace llmq
