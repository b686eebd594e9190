// When a sweep's unfinished jobs should be done (`status`, `submit --wait`, the dashboard).
//
// Each unfinished job's time is the cost model's (coordinator/cost_model.h) recorded
// estimate: the mean recorded wall time of finished jobs of the same cell, else of the
// same model, method and task; a job of a kind none has finished yet takes the prediction
// made when it was submitted (jobs.predicted_seconds), else the FLOP model's constant
// overhead. A running job counts what is left of its time (nothing once it has overrun
// it) and keeps its worker busy for that long; the pending jobs then go, longest first,
// to the least loaded of the active workers (Makespan). The answer is the longest
// worker's total: the time from now until the last job should end.
#ifndef LLMQ_COORDINATOR_SWEEP_ETA_H_
#define LLMQ_COORDINATOR_SWEEP_ETA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/cost_model.h"
#include "proto/llmq.pb.h"
#include "storage/read_txn.h"

namespace llmq {

// One unfinished job's part in the arithmetic.
struct EtaJob {
  double seconds = 0;   // its whole predicted time
  bool running = false;
  double elapsed = 0;   // running: seconds since it started
};

// The longest worker's remaining seconds when `jobs` run on `workers` workers (at least
// one assumed; each running job holds a worker of its own).
double RemainingSeconds(const std::vector<EtaJob>& jobs, int workers);

// The ETA of the sweep's unfinished jobs `unfinished` on `workers` active workers, with
// the jobs' times from `history`, at `now`.
v1::SweepEta EstimateEta(const std::vector<UnfinishedJobs>& unfinished,
                         const CostHistory& history, int workers, absl::Time now);

// Reads what EstimateEta needs from the store: the sweep's unfinished jobs, the recorded
// job times and the active workers.
absl::StatusOr<v1::SweepEta> ReadSweepEta(ReadTxn& txn, int64_t sweep_id, absl::Time now);

// "4m10s", "1h02m", "<1s": the ETA as people read it; "no active workers" when there are
// none.
std::string FormatEta(const v1::SweepEta& eta);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SWEEP_ETA_H_
