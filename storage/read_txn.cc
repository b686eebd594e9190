#include "storage/read_txn.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "storage/codec.h"
#include "storage/records.h"

namespace llmq {
namespace {

int64_t ToUnixSeconds(int64_t ms) { return ms / 1000; }

}  // namespace

absl::Status ReadTxn::FillJobCounts(int64_t sweep_id, v1::SweepSummary* summary) {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement counts,
      db_.Prepare("SELECT j.state, COUNT(*) FROM sweep_jobs sj JOIN jobs j ON j.id = sj.job_id "
                  "WHERE sj.sweep_id = ? GROUP BY j.state"));
  counts.BindAll(sweep_id);
  int64_t total = 0;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, counts.Step());
    if (!row) break;
    (*summary->mutable_jobs_by_state())[counts.Text(0)] = counts.Int(1);
    total += counts.Int(1);
  }
  summary->set_jobs_total(total);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::SweepSummary>> ReadTxn::ListSweeps() {
  std::vector<v1::SweepSummary> sweeps;
  {
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                          db_.Prepare("SELECT id, name, created_ms FROM sweeps ORDER BY id"));
    while (true) {
      LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      v1::SweepSummary& summary = sweeps.emplace_back();
      summary.set_sweep_id(select.Int(0));
      summary.set_name(select.Text(1));
      summary.set_created_unix(ToUnixSeconds(select.Int(2)));
    }
  }
  for (v1::SweepSummary& summary : sweeps) {
    LLMQ_RETURN_IF_ERROR(FillJobCounts(summary.sweep_id(), &summary));
  }
  return sweeps;
}

absl::StatusOr<std::optional<v1::SweepSummary>> ReadTxn::GetSweep(int64_t sweep_id) {
  v1::SweepSummary summary;
  {
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                          db_.Prepare("SELECT id, name, created_ms FROM sweeps WHERE id = ?"));
    select.BindAll(sweep_id);
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return std::optional<v1::SweepSummary>();
    summary.set_sweep_id(select.Int(0));
    summary.set_name(select.Text(1));
    summary.set_created_unix(ToUnixSeconds(select.Int(2)));
  }
  LLMQ_RETURN_IF_ERROR(FillJobCounts(sweep_id, &summary));
  return std::make_optional(std::move(summary));
}

absl::StatusOr<std::vector<v1::JobInfo>> ReadTxn::ListJobs(const JobFilter& filter) {
  std::optional<std::string> states;
  if (!filter.states.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (v1::JobState state : filter.states) names.push_back(JobStateName(state));
    states = names.dump();
  }
  // Leased and running jobs all hold a lease: the small partial index on open leases
  // finds them without visiting the sweep's other jobs (what `submit --wait` polls).
  bool leased_only = !filter.states.empty();
  for (v1::JobState state : filter.states) {
    leased_only &= state == v1::LEASED || state == v1::RUNNING;
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
  std::vector<v1::JobInfo> jobs;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    v1::JobInfo& job = jobs.emplace_back();
    job.set_job_id(select.Int(0));
    if (!job.mutable_spec()->ParseFromString(select.Bytes(1))) {
      return absl::DataLossError(absl::StrCat("job ", job.job_id(), ": unreadable spec"));
    }
    job.set_state(ParseJobState(select.Text(2)));
    job.set_attempts(static_cast<int32_t>(select.Int(3)));
    job.set_worker_id(select.Text(4));
    job.mutable_progress()->set_stage(select.Text(5));
    job.mutable_progress()->set_step(select.Int(6));
    job.mutable_progress()->set_total(select.Int(7));
    job.mutable_progress()->set_message(select.Text(8));
    job.set_error(select.Text(9));
    job.set_error_class(ParseErrorClass(select.Text(10)));
    job.set_updated_unix(ToUnixSeconds(select.Int(11)));
  }
  return jobs;
}

absl::StatusOr<std::vector<v1::ResultRow>> ReadTxn::QueryResults(
    const v1::QueryResultsRequest& request) {
  std::string sweep_name;
  if (request.sweep_id() != 0) {
    LLMQ_ASSIGN_OR_RETURN(auto sweep, GetSweep(request.sweep_id()));
    if (!sweep.has_value()) {
      return absl::NotFoundError(absl::StrCat("no sweep ", request.sweep_id()));
    }
    sweep_name = sweep->name();
  }
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT j.id, j.spec, r.result, r.worker_id, r.finished_ms, r.provenance "
                  "FROM jobs j JOIN results r ON r.job_id = j.id "
                  "WHERE (?1 = 0 OR j.id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ?1)) "
                  "AND (?2 = '' OR j.model = ?2) AND (?3 = '' OR j.method = ?3) "
                  "AND (?4 = '' OR j.task = ?4) AND j.state = 'SUCCEEDED' ORDER BY j.id"));
  select.BindAll(request.sweep_id(), request.model(), request.method(), request.task());
  std::vector<v1::ResultRow> rows;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    v1::ResultRow& result = rows.emplace_back();
    result.set_job_id(select.Int(0));
    if (!result.mutable_spec()->ParseFromString(select.Bytes(1)) ||
        !result.mutable_result()->ParseFromString(select.Bytes(2))) {
      return absl::DataLossError(absl::StrCat("job ", result.job_id(), ": unreadable result"));
    }
    if (!sweep_name.empty()) result.mutable_spec()->set_sweep_name(sweep_name);
    result.set_worker_id(select.Text(3));
    result.set_finished_unix(ToUnixSeconds(select.Int(4)));
    // The stored provenance includes the coordinator's additions (attempt, job key).
    for (const auto& [key, value] : JsonToStringMap(select.Text(5))) {
      (*result.mutable_result()->mutable_provenance())[key] = value;
    }
  }
  return rows;
}

absl::StatusOr<std::vector<v1::WorkerInfo>> ReadTxn::ListWorkers() {
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Statement select,
      db_.Prepare("SELECT w.id, w.host, w.devices, w.memory_bytes, w.labels, w.version, "
                  "w.state, w.last_seen_ms, (SELECT MIN(j.id) FROM jobs j WHERE "
                  "j.lease_id IS NOT NULL AND j.lease_worker = w.id) FROM workers w "
                  "ORDER BY w.registered_ms, w.id"));
  std::vector<v1::WorkerInfo> workers;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    v1::WorkerInfo& worker = workers.emplace_back();
    worker.set_worker_id(select.Text(0));
    worker.set_host(select.Text(1));
    for (const std::string& device : JsonToStringList(select.Text(2))) {
      worker.add_devices(device);
    }
    worker.set_memory_bytes(select.Int(3));
    for (const auto& [key, value] : JsonToStringMap(select.Text(4))) {
      (*worker.mutable_labels())[key] = value;
    }
    worker.set_version(select.Text(5));
    worker.set_state(select.Text(6));
    worker.set_last_seen_unix(ToUnixSeconds(select.Int(7)));
    if (!select.IsNull(8)) worker.set_current_job_id(select.Int(8));
  }
  return workers;
}

absl::StatusOr<std::optional<v1::JobState>> ReadTxn::JobStateByKey(const std::string& job_key) {
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement select,
                        db_.Prepare("SELECT state FROM jobs WHERE job_key = ?"));
  select.BindAll(job_key);
  LLMQ_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<v1::JobState>();
  return std::make_optional(ParseJobState(select.Text(0)));
}

}  // namespace llmq
