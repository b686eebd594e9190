// The read-only questions the user service asks: sweeps with their job counts, jobs with
// their progress, results with their specs, workers. A ReadTxn exists only inside
// Store::Read, on the reader connection and one consistent snapshot of the database;
// it never blocks the writer.
#ifndef LLMQ_STORAGE_READ_TXN_H_
#define LLMQ_STORAGE_READ_TXN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"
#include "storage/sqlite.h"

namespace llmq {

class ReadTxn {
 public:
  absl::StatusOr<std::vector<v1::SweepSummary>> ListSweeps();
  absl::StatusOr<std::optional<v1::SweepSummary>> GetSweep(int64_t sweep_id);

  struct JobFilter {
    int64_t sweep_id = 0;  // 0 = every sweep
    std::vector<v1::JobState> states;  // empty = any
    int limit = 0;                     // 0 = no limit
  };
  // Jobs by id, with spec, progress and last error.
  absl::StatusOr<std::vector<v1::JobInfo>> ListJobs(const JobFilter& filter);

  // Succeeded jobs' results matching `request`'s filters, ordered by job id. With a
  // sweep id, specs carry that sweep's name (a job may be shared by several sweeps).
  absl::StatusOr<std::vector<v1::ResultRow>> QueryResults(
      const v1::QueryResultsRequest& request);

  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers();

  // The state of the job with `job_key`, if one exists.
  absl::StatusOr<std::optional<v1::JobState>> JobStateByKey(const std::string& job_key);

 private:
  friend class Store;
  explicit ReadTxn(sqlite::Connection& connection) : db_(connection) {}
  absl::Status FillJobCounts(int64_t sweep_id, v1::SweepSummary* summary);

  sqlite::Connection& db_;
};

}  // namespace llmq

#endif  // LLMQ_STORAGE_READ_TXN_H_
