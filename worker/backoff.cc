#include "worker/backoff.h"

#include <algorithm>

namespace llmq {

ExponentialBackoff::ExponentialBackoff(absl::Duration initial, absl::Duration max,
                                       double multiplier)
    : initial_(initial), max_(std::max(initial, max)), multiplier_(multiplier),
      current_(initial), random_(std::random_device{}()) {}

absl::Duration ExponentialBackoff::NextDelay() {
  const absl::Duration delay = current_;
  current_ = std::min(max_, current_ * multiplier_);
  ++failures_;
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  return delay * fraction(random_);
}

void ExponentialBackoff::Reset() {
  current_ = initial_;
  failures_ = 0;
}

}  // namespace llmq
