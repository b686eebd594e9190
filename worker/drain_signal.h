// How a daemon is asked to stop, shared by the thread that receives signals and the
// threads that do the work. Drain: stop taking jobs, let the current one finish within
// a grace period, else hand it back. Stop now: kill the current job and leave at once.
// Both are for good. Thread-safe.
#ifndef LLMQ_WORKER_DRAIN_SIGNAL_H_
#define LLMQ_WORKER_DRAIN_SIGNAL_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace llmq {

class DrainSignal {
 public:
  void RequestDrain() {
    absl::MutexLock lock(&mu_);
    if (!draining_) drain_requested_at_ = absl::Now();
    draining_ = true;
  }
  // Implies a drain.
  void RequestStopNow() {
    absl::MutexLock lock(&mu_);
    if (!draining_) drain_requested_at_ = absl::Now();
    draining_ = true;
    stop_now_ = true;
  }
  bool draining() const {
    absl::MutexLock lock(&mu_);
    return draining_;
  }
  bool stop_now() const {
    absl::MutexLock lock(&mu_);
    return stop_now_;
  }
  // When the drain began; InfiniteFuture() if it has not.
  absl::Time drain_requested_at() const {
    absl::MutexLock lock(&mu_);
    return drain_requested_at_;
  }
  // Sleeps up to `duration`; returns early, with true, once a drain is requested.
  bool SleepUnlessDraining(absl::Duration duration) const {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&draining_), duration);
    return draining_;
  }

 private:
  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_now_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_requested_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace llmq

#endif  // LLMQ_WORKER_DRAIN_SIGNAL_H_
