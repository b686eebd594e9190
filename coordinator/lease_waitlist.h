// Long-polled Lease calls wait here until a job may be there for them or their wait runs
// out. One dispatcher thread retries the parked calls, oldest first, whenever Wake() says
// work may have appeared (submit, retry, requeue, expiry) and every `recheck_interval`
// (backoffs ending need no wake-up). Each parked call is answered exactly once: with a
// lease, with "no job" at its deadline, on Cancel, or on Shutdown.
#ifndef LLMQ_COORDINATOR_LEASE_WAITLIST_H_
#define LLMQ_COORDINATOR_LEASE_WAITLIST_H_

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/llmq.pb.h"

namespace llmq {

class LeaseWaitlist {
 public:
  using LeaseResult = absl::StatusOr<std::optional<v1::Lease>>;
  using TryLease = std::function<LeaseResult(const v1::LeaseRequest&)>;
  using Done = std::function<void(LeaseResult)>;

  LeaseWaitlist(TryLease try_lease, absl::Duration recheck_interval);
  ~LeaseWaitlist();  // Shutdown()
  LeaseWaitlist(const LeaseWaitlist&) = delete;
  LeaseWaitlist& operator=(const LeaseWaitlist&) = delete;

  // Parks `request` until `deadline`. `done` runs once, on the dispatcher thread or the
  // thread that calls Cancel/Shutdown; after Shutdown, at once on this thread.
  // Returns an id for Cancel.
  uint64_t Park(v1::LeaseRequest request, absl::Time deadline, Done done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Answers the parked call "no job" now (its client went away); no-op once answered.
  void Cancel(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // Work may be available: retry the parked calls.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // Answers every parked call "no job" and stops the dispatcher. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  size_t parked() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    uint64_t id;
    v1::LeaseRequest request;
    absl::Time deadline;
    Done done;
  };

  void Dispatch() ABSL_LOCKS_EXCLUDED(mu_);
  // One pass over the waiters parked when it starts.
  void RetryParked() ABSL_LOCKS_EXCLUDED(mu_);
  // Removes and returns the waiter `id`, if still parked.
  std::optional<Waiter> Take(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TryLease try_lease_;
  const absl::Duration recheck_interval_;

  mutable absl::Mutex mu_;
  std::list<Waiter> waiters_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool parked_since_wait_ ABSL_GUARDED_BY(mu_) = false;  // the dispatcher must re-plan
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread dispatcher_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_LEASE_WAITLIST_H_
