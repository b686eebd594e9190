// Exponential backoff with jitter for retrying a coordinator that does not answer:
// delays grow from `initial` by `multiplier` up to `max`, each drawn uniformly from
// [delay/2, delay] so that a fleet of workers does not retry in lockstep.
#ifndef LLMQ_WORKER_BACKOFF_H_
#define LLMQ_WORKER_BACKOFF_H_

#include <random>

#include "absl/time/time.h"

namespace llmq {

class ExponentialBackoff {
 public:
  ExponentialBackoff(absl::Duration initial, absl::Duration max, double multiplier = 2.0);

  // The delay before the next retry; each call lengthens the following one.
  absl::Duration NextDelay();
  // After a success: the next failure starts again from `initial`.
  void Reset();
  int failures() const { return failures_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const double multiplier_;
  absl::Duration current_;
  int failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace llmq

#endif  // LLMQ_WORKER_BACKOFF_H_
