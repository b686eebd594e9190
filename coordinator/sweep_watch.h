// Waiting for a sweep to finish: polls GetSweep, drawing the progress bar, until no job is
// pending or running. Used by `submit --wait` and `submit --local`.
#ifndef LLMQ_COORDINATOR_SWEEP_WATCH_H_
#define LLMQ_COORDINATOR_SWEEP_WATCH_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/user_client.h"

namespace llmq {

struct WatchOptions {
  absl::Duration poll_interval = absl::Milliseconds(500);
  bool show_progress = true;  // the bar on stderr
  // Asked every round; a non-OK status stops the watch and is returned (an interrupt,
  // local workers that all exited).
  std::function<absl::Status()> check;
};

// The sweep's final state once nothing is left to run. A coordinator that stops
// answering is waited for (it may be restarting), with a note on stderr.
absl::StatusOr<v1::GetSweepResponse> WatchSweep(UserClient& client, int64_t sweep_id,
                                                const WatchOptions& options);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SWEEP_WATCH_H_
