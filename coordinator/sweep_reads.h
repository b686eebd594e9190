// The read side that the user service and the dashboard share, so that `llmq-coord status`
// and the page in a browser say the same thing: a sweep with its counts, running jobs,
// cost comparison and ETA, read in one snapshot.
#ifndef LLMQ_COORDINATOR_SWEEP_READS_H_
#define LLMQ_COORDINATOR_SWEEP_READS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/llmq.pb.h"
#include "storage/read_txn.h"

namespace llmq {

// NotFound for a sweep that does not exist.
absl::Status ReadSweepDetail(ReadTxn& txn, int64_t sweep_id, absl::Time now,
                             v1::GetSweepResponse* response);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SWEEP_READS_H_
