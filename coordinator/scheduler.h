// The coordinator's logic with no sockets: the queue, leases, heartbeats, fenced reports,
// retries, expiry, cancellation, and worker registration. Every decision about a job
// goes through job_state_machine.h; every change is one store transaction, so the
// database is the source of truth and a restarted Scheduler continues where the last
// one stopped: leases open in the database are re-armed for one TTL from the restart,
// so that surviving workers keep heartbeating and their spooled reports are accepted.
//
// Thread-safe. Calls never block for long (Lease does not wait: long-polling is the
// gRPC layer's job, woken through the work listener).
#ifndef LLMQ_COORDINATOR_SCHEDULER_H_
#define LLMQ_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "coordinator/job_state_machine.h"
#include "coordinator/scheduler_metrics.h"
#include "proto/llmq.pb.h"
#include "storage/store.h"

namespace llmq {

struct SchedulerOptions {
  absl::Duration lease_ttl = absl::Seconds(60);
  absl::Duration heartbeat_interval = absl::Seconds(10);
  // After OUT_OF_MEMORY, how long (beyond the backoff) the job waits for a worker with
  // more free memory than the one that ran out before any worker may take it again.
  absl::Duration oom_preference = absl::Minutes(10);
  // A worker silent this long is shown as gone.
  absl::Duration worker_gone_after = absl::Minutes(5);
  RetryPolicy retry;
};

// A sweep's jobs, handed one at a time to `sink` (each spec, with its keys, valid during
// the call), so that the coordinator never holds a million JobSpecs at once; returns how
// many. A grid's source expands it (ForEachGridJob) each time it is called.
using JobSink = absl::FunctionRef<absl::Status(const v1::JobSpec&)>;
using JobSource = std::function<absl::StatusOr<int64_t>(JobSink sink)>;

// The source of jobs already in memory (tests, benchmarks).
JobSource JobsFrom(std::vector<v1::JobSpec> jobs);

// A grid to submit (coordinator/grid_submission.h).
struct SweepSubmission {
  std::string name;
  std::string grid_yaml;
  std::string grid_path;
  JobSource jobs;
  bool dry_run = false;
  std::map<std::string, int64_t> model_bytes;  // model path -> weight bytes (cost model)
};

class Scheduler {
 public:
  // `store` and `clock` must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(Store* store, Clock* clock,
                                                           const SchedulerOptions& options);

  // `listener` is called, on the caller's thread and outside any lock, whenever work may
  // have become available (submit, retry, a failed or expired job back in the queue).
  void SetWorkListener(std::function<void()> listener) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- users
  // Inserts the sweep and its new jobs in one transaction, as the source hands them over;
  // keys that exist are linked (see README.md, "Job identity across sweeps"). An error
  // from the source, even after its last job, rolls the whole sweep back.
  absl::StatusOr<v1::SubmitSweepResponse> Submit(const SweepSubmission& submission);
  // Cancels the sweep's unfinished jobs. Returns how many.
  absl::StatusOr<int64_t> CancelSweep(int64_t sweep_id);
  // Requeues FAILED and CANCELLED jobs of the sweep (all, or `job_ids`). Returns how many.
  absl::StatusOr<int64_t> RetryJobs(int64_t sweep_id, const std::vector<int64_t>& job_ids);

  // ---- workers
  // FailedPrecondition for another protocol version.
  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& request);
  // A lease on the best job for this worker, or nullopt when none fits now.
  // NotFound when the worker is unknown (it should register again).
  absl::StatusOr<std::optional<v1::Lease>> Lease(const v1::LeaseRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  // RECORDED, DUPLICATE (this report was recorded before) or STALE (refused).
  absl::StatusOr<v1::ReportStatus> Report(const v1::ReportRequest& request);
  // Returns the worker's open leases to the queue, uncharged, and marks it gone.
  absl::Status Deregister(const std::string& worker_id);

  // ---- housekeeping (the server calls this every second or so)
  // Ends expired leases (requeue or poison) and marks silent workers gone. Returns the
  // number of leases it ended.
  absl::StatusOr<int> ExpireLeases();

  const SchedulerOptions& options() const { return options_; }
  Store* store() const { return store_; }
  // Counted once each change has committed.
  const SchedulerMetrics& metrics() const { return metrics_; }

 private:
  struct WorkerCaps {
    bool has_cpu = true;
    bool has_cuda = false;
    int64_t memory_bytes = 0;
    absl::Time last_touched = absl::InfinitePast();
  };

  Scheduler(Store* store, Clock* clock, const SchedulerOptions& options)
      : store_(store), clock_(clock), options_(options) {}

  static WorkerCaps CapsOf(const WorkerRecord& worker);
  // The worker's capabilities from the cache, else the database (after a restart).
  absl::StatusOr<WorkerCaps> FindWorker(WriteTxn& txn, const std::string& worker_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records that the worker was seen, at most every few seconds per worker.
  absl::Status MaybeTouchWorker(WriteTxn& txn, const std::string& worker_id, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends `job`'s expired lease inside `txn`; true when the job went back to the queue.
  absl::StatusOr<bool> ExpireLease(WriteTxn& txn, const JobRecord& job, absl::Time now);
  // What applying a report did besides its status, counted once it has committed.
  struct ReportEffects {
    bool requeued = false;       // the job went back to the queue
    bool lease_expired = false;  // the report came too late: the lease was expired instead
    std::optional<absl::Duration> succeeded_after;  // a success, this long after its lease
  };
  absl::StatusOr<v1::ReportStatus> ApplyReport(WriteTxn& txn, const v1::ReportRequest& request,
                                               absl::Time now, ReportEffects* effects);
  void NotifyWork() ABSL_LOCKS_EXCLUDED(mu_);

  Store* const store_;
  Clock* const clock_;
  const SchedulerOptions options_;
  SchedulerMetrics metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, WorkerCaps> workers_ ABSL_GUARDED_BY(mu_);
  std::function<void()> listener_ ABSL_GUARDED_BY(mu_);
};

// Random identifiers: 128-bit lease ids, worker ids that start with the host name.
std::string NewLeaseId();
std::string NewWorkerId(const std::string& host);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SCHEDULER_H_
