// The one place that decides what a job may do next. Pure: no clock, no database. It
// speaks the store's JobState and ErrorClass (storage/records.h), which is what the
// scheduler reads and writes; the proto's are translated at the RPC edge (store_codec.h).
//
//   PENDING            --lease-->            LEASED
//   LEASED             --first heartbeat-->  RUNNING
//   LEASED | RUNNING   --succeed-->          SUCCEEDED
//   LEASED | RUNNING   --fail-->             PENDING (retryable, after a backoff) | FAILED
//   LEASED | RUNNING   --return-->           PENDING
//   LEASED | RUNNING   --expire-->           PENDING (after a backoff) | FAILED (poisoned)
//   PENDING | LEASED | RUNNING --cancel-->   CANCELLED
//   FAILED | CANCELLED --retry-->            PENDING (fresh counters)
//   A job cancelled while leased keeps its lease until the worker reports or the lease
//   expires: heartbeats are answered "cancel"; a success reported then is still
//   recorded (SUCCEEDED), anything else leaves it CANCELLED.
//
// Retry rules by error class (RetryPolicy holds the delays):
//   TRANSIENT, OUT_OF_MEMORY, TIMEOUT (and unclassified): charged against max_attempts,
//     retried after an exponential backoff; OOM also asks for a worker with more memory.
//   DETERMINISTIC: fail fast, no retry.
//   PREEMPTED, a returned lease: not charged, requeued at once.
//   Lease expiry (WORKER_LOST): not charged, counts a worker death; the job is poisoned
//     (FAILED) at poison_after_worker_deaths.
#ifndef LLMQ_COORDINATOR_JOB_STATE_MACHINE_H_
#define LLMQ_COORDINATOR_JOB_STATE_MACHINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/records.h"

namespace llmq {

enum class JobEvent {
  kLease,    // a worker takes the job
  kStart,    // a heartbeat under the lease
  kSucceed,  // the worker reports success
  kFail,     // the worker reports a failure of some ErrorClass
  kReturn,   // the worker hands the job back unfinished (drain)
  kExpire,   // the lease ran out without a report
  kCancel,   // the user cancels
  kRetry,    // the user (or a resubmitted grid) asks for another try
};

const char* JobEventName(JobEvent event);

// Backoff delays per error class: base * 2^(n-1), capped at `max`, where n counts that
// kind of failure for the job (charged failures, or worker deaths for WORKER_LOST).
struct RetryPolicy {
  struct Backoff {
    absl::Duration base;
    absl::Duration max;
  };
  Backoff transient{absl::Seconds(5), absl::Minutes(5)};
  Backoff out_of_memory{absl::Seconds(10), absl::Minutes(10)};
  Backoff timeout{absl::Seconds(30), absl::Minutes(10)};
  Backoff worker_lost{absl::Seconds(5), absl::Minutes(5)};
  int poison_after_worker_deaths = 3;
  int default_max_attempts = 3;  // for specs that leave max_attempts at 0

  absl::Duration Delay(ErrorClass error_class, int n) const;
};

// The job's counters the decision needs (before the event).
struct JobCounters {
  int failures = 0;
  int max_attempts = 0;  // 0 = the policy's default
  int worker_deaths = 0;
};

// What the event does to the job.
struct Transition {
  JobState next = JobState::kUnspecified;
  bool ends_attempt = false;   // the open lease closes
  bool charged = false;        // failures += 1
  bool worker_death = false;   // worker_deaths += 1
  bool poisoned = false;       // FAILED because it killed too many workers
  absl::Duration backoff = absl::ZeroDuration();  // before it may be leased again
  bool wants_more_memory = false;                 // prefer a worker with more free memory
  std::string reason;          // for logs and the job's error when it ends the job
};

// Decides `event` on a job in state `from`. FailedPrecondition when the event is not
// allowed in that state (the caller answers STALE, ignores, or reports it).
// `error_class` matters only for kFail.
absl::StatusOr<Transition> DecideTransition(JobState from, JobEvent event,
                                            ErrorClass error_class,
                                            const JobCounters& counters,
                                            const RetryPolicy& policy);

// The states from which `event` is allowed (for set-wise updates: cancel a sweep).
std::vector<JobState> StatesAllowing(JobEvent event);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_JOB_STATE_MACHINE_H_
