// The rows the store reads and writes, as plain structs: the store's own vocabulary, so
// that storage/ needs neither the proto nor gRPC (the coordinator translates,
// coordinator/store_codec.h). Times are absl::Time (stored as Unix milliseconds);
// absl::InfinitePast() stands for NULL. Specs and results travel as opaque serialized
// blobs: the store keeps them, never reads them.
#ifndef LLMQ_STORAGE_RECORDS_H_
#define LLMQ_STORAGE_RECORDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace llmq {

// A job's state. Stored by name ('PENDING', codec.h); the names are llmq.proto's, so a
// database reads the same whichever side wrote it.
enum class JobState { kUnspecified, kPending, kLeased, kRunning, kSucceeded, kFailed, kCancelled };

// Why an attempt failed (coordinator/job_state_machine.h says what each one does). Stored
// by its llmq.proto name ('OUT_OF_MEMORY'), kUnspecified as ''.
enum class ErrorClass {
  kUnspecified,
  kTransient,
  kOutOfMemory,
  kDeterministic,
  kTimeout,
  kPreempted,
  kWorkerLost,
  kCrashed,
};

// A submitted job: what the jobs table keeps in its own columns (README.md, "jobs"), so
// that the scheduler's queries and the analysts' views need not decode the spec, and the
// spec itself, kept whole and handed to the worker that leases the job.
struct NewJob {
  std::string job_key;  // required: the job's identity across sweeps
  std::string quant_key;
  int priority = 0;
  std::string device;  // any | cpu | cuda; empty = any
  int64_t memory_bytes = 0;
  int64_t timeout_seconds = 0;
  std::string model;  // the alias tables show
  std::string model_path;
  std::string dtype;
  std::string method;
  std::map<std::string, std::string> method_params;
  std::string task;
  std::map<std::string, std::string> task_params;
  struct Calibration {
    std::string dataset;  // empty: the method does not calibrate
    int samples = 0;
    int seq_len = 0;
    uint64_t seed = 0;
    std::string mode;
  };
  Calibration calibration;
  int repeat = 0;
  std::string spec;  // the serialized job spec
  // The cost model's wall time for it, at submission (coordinator/cost_model.h).
  std::optional<double> predicted_seconds;
};

// A job's scheduling state: everything the scheduler decides on. The spec stays a blob
// until a lease needs it.
struct JobRecord {
  int64_t id = 0;
  int64_t sweep_id = 0;  // the sweep that first submitted the job
  std::string job_key;
  std::string quant_key;
  JobState state = JobState::kUnspecified;
  int priority = 0;
  int attempts = 0;       // leases granted so far (the current attempt's number)
  int failures = 0;       // failed attempts that count against max_attempts
  int max_attempts = 0;
  int worker_deaths = 0;  // leases that expired without a report
  std::string lease_id;   // empty: no attempt is open
  std::string lease_worker;
  absl::Time lease_expires = absl::InfinitePast();
  absl::Time next_eligible = absl::InfinitePast();
  std::string error;
  ErrorClass error_class = ErrorClass::kUnspecified;

  bool has_open_lease() const { return !lease_id.empty(); }
};

// One attempt (lease) of a job, from the attempts table.
struct AttemptRecord {
  int64_t job_id = 0;
  int attempt = 0;
  std::string lease_id;
  std::string worker_id;
  int64_t free_memory_bytes = 0;  // what the worker said it had when it took the lease
  std::string outcome;            // OPEN | SUCCEEDED | FAILED | RETURNED | EXPIRED
  absl::Time leased = absl::InfinitePast();  // when the lease was granted
};

// Identifies one open attempt; every change to a leased job must present it.
struct LeaseFence {
  int64_t job_id = 0;
  std::string lease_id;
  int attempt = 0;
};

// What a worker can run, for ClaimNextJob.
struct ClaimRequest {
  std::string worker_id;
  std::string lease_id;  // the id the new lease gets
  bool has_cpu = true;
  bool has_cuda = false;
  int64_t free_memory_bytes = 0;  // 0 = unknown: no memory filter
  std::vector<std::string> cached_quant_keys;
  absl::Time now;
  absl::Time lease_expires;
};

// A granted lease, as ClaimNextJob returns it.
struct ClaimedJob {
  int64_t job_id = 0;
  int attempt = 0;
  std::string lease_id;
  absl::Time lease_expires;
  std::string quant_key;
  bool affinity_hit = false;  // chosen because the worker holds its quant_key
  absl::Time eligible_since;  // when the job last became eligible to run (queue wait start)
  std::string spec;           // as NewJob::spec stored it
};

// A heartbeat's report of how far the job got.
struct JobProgress {
  std::string stage;  // empty: the heartbeat carried no progress
  int64_t step = 0;
  int64_t total = 0;
  std::string message;
};

// How an open attempt ends, applied by FinishAttempt in one fenced UPDATE.
struct AttemptEnd {
  std::string outcome;  // SUCCEEDED | FAILED | RETURNED | EXPIRED
  JobState next_state = JobState::kPending;
  ErrorClass error_class = ErrorClass::kUnspecified;
  std::string error;
  bool charged = false;       // counts against max_attempts
  bool worker_death = false;  // counts towards poisoning
  absl::Time next_eligible = absl::InfinitePast();
  int64_t memory_hint_bytes = 0;  // after OOM: prefer workers with more free memory
  absl::Time memory_hint_until = absl::InfinitePast();
  absl::Time now;
};

// The Slurm job a worker runs in, as it registered it.
struct SlurmJobRecord {
  int64_t job_id = 0;        // SLURM_JOB_ID
  int64_t array_job_id = 0;  // SLURM_ARRAY_JOB_ID; 0: not in a job array
  int32_t array_task_id = 0;  // SLURM_ARRAY_TASK_ID, when array_job_id is set
};

// A worker as registered.
struct WorkerRecord {
  std::string id;
  std::string host;
  std::vector<std::string> devices;
  int64_t memory_bytes = 0;
  std::map<std::string, std::string> labels;
  std::string version;
  std::string state = "active";  // active | draining | gone
  std::optional<SlurmJobRecord> slurm;  // unset outside Slurm
};

// A succeeded attempt's result, as InsertResult stores it: metrics into the metrics table,
// provenance and timings as JSON (what the views show), and the whole result as a blob.
struct ResultRecord {
  struct Metric {
    std::string name;
    double value = 0;  // NaN is stored as NULL
    std::string unit;
    std::optional<double> ci_low, ci_high;  // the metric's bootstrap interval, if it has one
  };
  struct Timing {
    std::string stage;
    double seconds = 0;
  };
  std::vector<Metric> metrics;
  std::map<std::string, std::string> provenance;  // the worker's
  std::vector<Timing> timings;                    // wall_seconds is their sum
  std::string result;                             // the serialized result
  // The per-example scores (an opaque serialized message; empty: none), kept in their own
  // table so that a result stays small to read when they are not asked for.
  std::string example_scores;
  int64_t examples = 0;  // how many examples they score
};

// ---- what ReadTxn answers

// A sweep with its member jobs (shared ones included) counted by state.
struct SweepRow {
  int64_t id = 0;
  std::string name;
  absl::Time created = absl::InfinitePast();
  std::map<JobState, int64_t> jobs_by_state;
  int64_t jobs_total = 0;
};

// A job as `llmq-coord jobs` lists it.
struct JobRow {
  int64_t id = 0;
  std::string spec;  // as NewJob::spec stored it
  JobState state = JobState::kUnspecified;
  int attempts = 0;
  std::string worker_id;  // the lease holder, else the worker of its result, else empty
  JobProgress progress;   // the latest heartbeat's
  std::string error;
  ErrorClass error_class = ErrorClass::kUnspecified;
  absl::Time updated = absl::InfinitePast();
};

// Which succeeded jobs' results QueryResults returns; empty fields match anything.
struct ResultsFilter {
  int64_t sweep_id = 0;  // 0 = every sweep
  std::string model;
  std::string method;
  std::string task;
  bool with_example_scores = false;  // also read ResultRow::example_scores
};

// A succeeded job's result.
struct ResultRow {
  int64_t job_id = 0;
  std::string spec;    // as NewJob::spec stored it
  std::string result;  // as ResultRecord::result stored it
  std::string example_scores;  // as ResultRecord::example_scores stored it, when asked for
  // The worker's provenance with the coordinator's additions (attempt, job key, ...).
  std::map<std::string, std::string> provenance;
  std::string worker_id;
  absl::Time finished = absl::InfinitePast();
  // With a sweep in the filter, that sweep's name (a job may be shared by several sweeps
  // and its spec names the first); else empty.
  std::string sweep_name;
};

// A finished job's cost, for predicting the cost of jobs like it.
struct RecordedCost {
  std::string model;
  std::string method;
  std::string method_params;  // JSON, as stored
  std::string task;
  std::string task_params;    // JSON, as stored
  double wall_seconds = 0;    // the sum of its stage timings
  int64_t peak_bytes = 0;     // the largest of its peak memory metrics (0: none recorded)
  int64_t metrics = 0;        // metric rows it added
};

// Predicted against actual cost of a sweep's jobs of one model and method.
struct SweepCostRow {
  std::string model;
  std::string method;
  int64_t jobs = 0;                // with a prediction
  int64_t finished = 0;            // of which succeeded
  double predicted_seconds = 0;    // summed over all `jobs`
  double predicted_finished = 0;   // summed over the finished ones
  double actual_seconds = 0;       // their recorded wall time, summed
};

// A sweep's unfinished jobs of one cell (model, method and parameters, task and
// parameters): either its pending jobs together or one running job.
struct UnfinishedJobs {
  std::string model;
  std::string method;
  std::string method_params;  // JSON, as stored
  std::string task;
  std::string task_params;    // JSON, as stored
  bool running = false;       // one LEASED or RUNNING job; else `count` PENDING ones
  int64_t count = 0;
  // The mean prediction made at submission over those that have one.
  std::optional<double> predicted_seconds;
  absl::Time running_since = absl::InfinitePast();  // running: its first heartbeat, else its lease
};

// A worker as `llmq-coord workers` lists it.
struct WorkerRow {
  WorkerRecord worker;
  absl::Time last_seen = absl::InfinitePast();
  int64_t current_job_id = 0;  // the lowest job id it holds a lease on; 0 = none
};

// Converts between times and the stored milliseconds.
inline int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }
inline absl::Time FromMillis(int64_t ms) { return absl::FromUnixMillis(ms); }

}  // namespace llmq

#endif  // LLMQ_STORAGE_RECORDS_H_
