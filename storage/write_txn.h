// The mutations the scheduler composes into transactions. A WriteTxn exists only inside
// Store::Write, which holds the single writer connection and an open BEGIN IMMEDIATE
// transaction: everything done through one WriteTxn commits or rolls back together.
// Changes to a leased job are fenced: they take a LeaseFence and change nothing (return
// false) unless the job's current lease id and attempt still match.
// The store decides nothing: which transition is allowed is the scheduler's business.
#ifndef LLMQ_STORAGE_WRITE_TXN_H_
#define LLMQ_STORAGE_WRITE_TXN_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/records.h"
#include "storage/sqlite.h"

namespace llmq {

class WriteTxn {
 public:
  // ---- sweeps and jobs
  absl::StatusOr<int64_t> InsertSweep(const std::string& name, const std::string& grid_yaml,
                                      const std::string& grid_path, absl::Time now);

  // Result of AddJob: the job's id and, when the key already existed, its state then.
  struct AddedJob {
    int64_t job_id = 0;
    bool inserted = false;
    JobState existing_state = JobState::kUnspecified;
  };
  // Inserts `job` as a new PENDING job of `sweep_id`, or, when a job with the same
  // job_key exists (from any sweep), links that job to the sweep and raises its priority
  // to the new job's if higher. Either way the job becomes a member of the sweep.
  absl::StatusOr<AddedJob> AddJob(int64_t sweep_id, const NewJob& job, int max_attempts,
                                  absl::Time now);

  // Puts jobs of `sweep_id` (all of them, or only `job_ids`) whose state is one of
  // `from_states` back to PENDING with fresh retry counters. Returns how many.
  absl::StatusOr<int64_t> RequeueJobs(int64_t sweep_id, const std::vector<int64_t>& job_ids,
                                      const std::vector<JobState>& from_states,
                                      absl::Time now);
  // Moves the sweep's jobs in `from_states` to CANCELLED. An open lease stays open so
  // its worker learns of the cancellation at its next heartbeat. Returns how many.
  absl::StatusOr<int64_t> CancelJobs(int64_t sweep_id, const std::vector<JobState>& from_states,
                                     absl::Time now);

  absl::StatusOr<std::optional<JobRecord>> GetJob(int64_t job_id);

  // ---- leases
  // Picks and leases, in this transaction, the best job `request` may run: eligible
  // PENDING jobs whose device and memory fit, highest priority first; among equal
  // priorities one whose quant_key the worker holds, then the longest-waiting. Records
  // the attempt. nullopt when nothing fits.
  absl::StatusOr<std::optional<ClaimedJob>> ClaimNextJob(const ClaimRequest& request);

  absl::StatusOr<std::optional<AttemptRecord>> GetAttempt(int64_t job_id, int attempt);

  // Extends the lease to `expires` and stores `progress` (unless its stage is empty); with
  // `start`, a LEASED job becomes RUNNING. false when the fence does not match.
  absl::StatusOr<bool> RenewLease(const LeaseFence& fence, absl::Time expires,
                                  const JobProgress& progress, bool start, absl::Time now);

  // Closes the open attempt as `end` says and clears the lease. false when the fence
  // does not match (then nothing changed).
  absl::StatusOr<bool> FinishAttempt(const LeaseFence& fence, const AttemptEnd& end);

  // Stores a succeeded attempt's result, metrics and provenance (one row per job; a
  // later success of the same job replaces it). `extra_provenance` adds the
  // coordinator's fields to the worker's.
  absl::Status InsertResult(int64_t job_id, int attempt, const std::string& worker_id,
                            const ResultRecord& result,
                            const std::map<std::string, std::string>& extra_provenance,
                            absl::Time now);

  // Jobs with an open lease that expired at or before `now`, oldest first.
  absl::StatusOr<std::vector<JobRecord>> ListExpiredLeases(absl::Time now, int limit);
  // Open leases held by `worker_id`.
  absl::StatusOr<std::vector<JobRecord>> ListLeasesOfWorker(const std::string& worker_id);
  // Gives every open lease until at least `expires` (coordinator restart). Returns how many.
  absl::StatusOr<int64_t> RearmOpenLeases(absl::Time expires);

  // ---- workers
  absl::Status UpsertWorker(const WorkerRecord& worker, absl::Time now);
  absl::StatusOr<std::optional<WorkerRecord>> GetWorker(const std::string& worker_id);
  // Records that the worker was seen; with `revive`, a worker shown as gone is active
  // again.
  absl::Status TouchWorker(const std::string& worker_id, absl::Time now, bool revive);
  // Treats every worker not gone as seen at `now` (coordinator restart: they could not
  // reach us while we were down). Returns how many.
  absl::StatusOr<int64_t> RefreshActiveWorkers(absl::Time now);
  absl::Status SetWorkerState(const std::string& worker_id, const std::string& state,
                              absl::Time now);
  // Marks workers not seen since `cutoff` as gone. Returns how many.
  absl::StatusOr<int64_t> MarkSilentWorkersGone(absl::Time cutoff);

 private:
  friend class Store;
  WriteTxn(sqlite::Connection& connection, std::set<std::pair<std::string, std::string>>*
                                               known_pivot_names)
      : db_(connection), known_pivot_names_(known_pivot_names) {}

  // Records parameter or metric names for the generated v_jobs view; regenerates it
  // when a name is new.
  absl::Status NotePivotNames(const std::string& kind, const std::vector<std::string>& names);
  // The best eligible job for `request` as (id, priority); with `priority`, only among
  // jobs of that priority whose quant_key the worker holds.
  absl::StatusOr<std::optional<std::pair<int64_t, int>>> PickJob(const ClaimRequest& request,
                                                                 std::optional<int> priority);

  sqlite::Connection& db_;
  // Names already in pivot_columns (owned by Store, guarded by its writer mutex);
  // names added here are rolled back with the transaction by Store.
  std::set<std::pair<std::string, std::string>>* known_pivot_names_;
  std::vector<std::pair<std::string, std::string>> added_pivot_names_;
};

}  // namespace llmq

#endif  // LLMQ_STORAGE_WRITE_TXN_H_
