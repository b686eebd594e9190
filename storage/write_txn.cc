// WriteTxn: sweeps, jobs, results and the pivot-column registry. Leases and workers are
// in write_txn_leases.cc.
#include <glog/logging.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "storage/codec.h"
#include "storage/job_columns.h"
#include "storage/schema.h"
#include "storage/write_txn.h"

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

absl::StatusOr<WriteTxn::AddedJob> WriteTxn::AddJob(int64_t sweep_id, const v1::JobSpec& spec,
                                                    int max_attempts, absl::Time now) {
  if (spec.job_key().empty()) return absl::InvalidArgumentError("job spec has no job_key");
  AddedJob added;
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare(
            "INSERT INTO jobs (sweep_id, job_key, quant_key, state, priority, max_attempts, "
            "device, memory_bytes, timeout_seconds, model, model_path, dtype, method, "
            "method_params, task, task_params, calibration, repeat, spec, next_eligible_ms, "
            "created_ms, updated_ms) "
            "VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job_key) DO NOTHING"));
    const std::string device = spec.resources().device().empty() ? "any"
                                                                  : spec.resources().device();
    const std::string spec_bytes = spec.SerializeAsString();
    insert.BindAll(sweep_id, spec.job_key(), spec.quant_key(), spec.priority(), max_attempts,
                   device, static_cast<int64_t>(spec.resources().memory_bytes()),
                   static_cast<int64_t>(spec.timeout_seconds()), spec.model().alias(),
                   spec.model().path(), spec.model().dtype(), spec.method().name(),
                   ParamsToJson(spec.method().params()), spec.task().name(),
                   ParamsToJson(spec.task().params()), CalibrationToJson(spec.calibration()),
                   spec.repeat(), sqlite::Blob{spec_bytes}, ToMillis(now), ToMillis(now),
                   ToMillis(now));
    LLMQ_RETURN_IF_ERROR(insert.Run());
  }
  if (db_.changes() == 1) {
    added.job_id = db_.last_insert_rowid();
    added.inserted = true;
    std::vector<std::string> method_names, task_names;
    for (const auto& [name, value] : spec.method().params()) method_names.push_back(name);
    for (const auto& [name, value] : spec.task().params()) task_names.push_back(name);
    LLMQ_RETURN_IF_ERROR(NotePivotNames("method_param", method_names));
    LLMQ_RETURN_IF_ERROR(NotePivotNames("task_param", task_names));
  } else {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement existing,
        db_.Prepare("UPDATE jobs SET priority = MAX(priority, ?) WHERE job_key = ? "
                    "RETURNING id, state"));
    existing.BindAll(spec.priority(), spec.job_key());
    LLMQ_ASSIGN_OR_RETURN(bool row, existing.Step());
    if (!row) return absl::InternalError(absl::StrCat("job ", spec.job_key(), " vanished"));
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

std::string StatesJson(const std::vector<v1::JobState>& states) {
  nlohmann::json names = nlohmann::json::array();
  for (v1::JobState state : states) names.push_back(JobStateName(state));
  return names.dump();
}

}  // namespace

absl::StatusOr<int64_t> WriteTxn::RequeueJobs(int64_t sweep_id,
                                              const std::vector<int64_t>& job_ids,
                                              const std::vector<v1::JobState>& from_states,
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
                                             const std::vector<v1::JobState>& from_states,
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
                                    const v1::JobResult& result,
                                    const std::map<std::string, std::string>& extra_provenance,
                                    absl::Time now) {
  std::map<std::string, std::string> provenance(result.provenance().begin(),
                                                result.provenance().end());
  for (const auto& [key, value] : extra_provenance) provenance[key] = value;
  double wall_seconds = 0;
  for (const v1::StageTiming& timing : result.timings()) wall_seconds += timing.seconds();
  const std::string bytes = result.SerializeAsString();
  const std::string provenance_json = StringMapToJson(provenance);
  const std::string timings_json = TimingsToJson(result.timings());
  for (int round = 0; round < 2; ++round) {
    {
      LLMQ_ASSIGN_OR_RETURN(
          sqlite::Statement insert,
          db_.Prepare("INSERT INTO results (job_id, attempt, worker_id, finished_ms, "
                      "wall_seconds, provenance, timings, result) VALUES (?,?,?,?,?,?,?,?) "
                      "ON CONFLICT(job_id) DO NOTHING"));
      insert.BindAll(job_id, attempt, worker_id, ToMillis(now), wall_seconds, provenance_json,
                     timings_json, sqlite::Blob{bytes});
      LLMQ_RETURN_IF_ERROR(insert.Run());
    }
    if (db_.changes() == 1) break;
    // The state machine lets a job succeed once; should it ever succeed again, the newer
    // result replaces the older one rather than mixing their metrics.
    for (const char* sql : {"DELETE FROM metrics WHERE job_id = ?",
                            "DELETE FROM results WHERE job_id = ?"}) {
      LLMQ_ASSIGN_OR_RETURN(sqlite::Statement erase, db_.Prepare(sql));
      LLMQ_RETURN_IF_ERROR(erase.BindAll(job_id).Run());
    }
  }
  std::vector<std::string> names;
  for (const v1::Metric& metric : result.metrics()) {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        db_.Prepare("INSERT OR REPLACE INTO metrics (job_id, name, value, unit) "
                    "VALUES (?, ?, ?, ?)"));
    LLMQ_RETURN_IF_ERROR(
        insert.BindAll(job_id, metric.name(), metric.value(), metric.unit()).Run());
    names.push_back(metric.name());
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
