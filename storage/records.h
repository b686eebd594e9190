// The rows the store reads and writes, as plain structs. Times are absl::Time (stored as
// Unix milliseconds); absl::InfinitePast() stands for NULL.
#ifndef LLMQ_STORAGE_RECORDS_H_
#define LLMQ_STORAGE_RECORDS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/llmq.pb.h"

namespace llmq {

// A job's scheduling state: everything the scheduler decides on. The spec stays a blob
// until a lease needs it.
struct JobRecord {
  int64_t id = 0;
  int64_t sweep_id = 0;  // the sweep that first submitted the job
  std::string job_key;
  std::string quant_key;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
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
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;

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
  v1::JobSpec spec;
};

// How an open attempt ends, applied by FinishAttempt in one fenced UPDATE.
struct AttemptEnd {
  std::string outcome;  // SUCCEEDED | FAILED | RETURNED | EXPIRED
  v1::JobState next_state = v1::PENDING;
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  std::string error;
  bool charged = false;       // counts against max_attempts
  bool worker_death = false;  // counts towards poisoning
  absl::Time next_eligible = absl::InfinitePast();
  int64_t memory_hint_bytes = 0;  // after OOM: prefer workers with more free memory
  absl::Time memory_hint_until = absl::InfinitePast();
  absl::Time now;
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
};

// Outcome of inserting one job of a submitted sweep.
enum class JobInsertOutcome { kInserted, kRequeued, kAlreadyDone, kInProgress };

// Converts between times and the stored milliseconds.
inline int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }
inline absl::Time FromMillis(int64_t ms) { return absl::FromUnixMillis(ms); }

}  // namespace llmq

#endif  // LLMQ_STORAGE_RECORDS_H_
