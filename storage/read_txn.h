// The read-only questions the user service asks: sweeps with their job counts, jobs with
// their progress, results with their specs, workers. A ReadTxn exists only inside
// Store::Read, on the reader connection and one consistent snapshot of the database;
// it never blocks the writer.
#ifndef LLMQ_STORAGE_READ_TXN_H_
#define LLMQ_STORAGE_READ_TXN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/records.h"
#include "storage/sqlite.h"

namespace llmq {

class ReadTxn {
 public:
  absl::StatusOr<std::vector<SweepRow>> ListSweeps();
  absl::StatusOr<std::optional<SweepRow>> GetSweep(int64_t sweep_id);

  struct JobFilter {
    int64_t sweep_id = 0;          // 0 = every sweep
    std::vector<JobState> states;  // empty = any
    int limit = 0;                 // 0 = no limit
  };
  // Jobs by id, with spec, progress and last error.
  absl::StatusOr<std::vector<JobRow>> ListJobs(const JobFilter& filter);

  // Succeeded jobs' results matching `filter`, ordered by job id. NotFound for a sweep
  // that does not exist.
  absl::StatusOr<std::vector<ResultRow>> QueryResults(const ResultsFilter& filter);

  absl::StatusOr<std::vector<WorkerRow>> ListWorkers();

  // Every succeeded job's recorded cost (what the cost model learns from). Without
  // `with_memory`, peak_bytes and metrics stay 0 (cheaper: no metrics are read).
  absl::StatusOr<std::vector<RecordedCost>> RecordedCosts(bool with_memory = true);

  // The sweep's pending jobs counted per cell, and each running (or leased) job alone.
  absl::StatusOr<std::vector<UnfinishedJobs>> UnfinishedJobsOf(int64_t sweep_id);

  // Every job in the database counted by state (each job once, whatever its sweeps).
  absl::StatusOr<std::map<JobState, int64_t>> JobCountsByState();

  // Per model and method, the sweep's predicted and actual job time.
  absl::StatusOr<std::vector<SweepCostRow>> SweepCosts(int64_t sweep_id);

  // The state of the job with `job_key`, if one exists.
  absl::StatusOr<std::optional<JobState>> JobStateByKey(const std::string& job_key);

 private:
  friend class Store;
  explicit ReadTxn(sqlite::Connection& connection) : db_(connection) {}
  absl::Status FillJobCounts(SweepRow* sweep);

  sqlite::Connection& db_;
};

}  // namespace llmq

#endif  // LLMQ_STORAGE_READ_TXN_H_
