#include "coordinator/lease_waitlist.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <glog/logging.h>

#include "absl/time/clock.h"

namespace llmq {

LeaseWaitlist::LeaseWaitlist(TryLease try_lease, absl::Duration recheck_interval)
    : try_lease_(std::move(try_lease)), recheck_interval_(recheck_interval) {
  dispatcher_ = std::thread([this] { Dispatch(); });
}

LeaseWaitlist::~LeaseWaitlist() { Shutdown(); }

uint64_t LeaseWaitlist::Park(v1::LeaseRequest request, absl::Time deadline, Done done) {
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    if (!stopped_) {
      waiters_.push_back(Waiter{id, std::move(request), deadline, std::move(done)});
      parked_since_wait_ = true;
      return id;
    }
  }
  done(std::optional<v1::Lease>());
  return id;
}

std::optional<LeaseWaitlist::Waiter> LeaseWaitlist::Take(uint64_t id) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [id](const Waiter& w) { return w.id == id; });
  if (it == waiters_.end()) return std::nullopt;
  Waiter waiter = std::move(*it);
  waiters_.erase(it);
  return waiter;
}

void LeaseWaitlist::Cancel(uint64_t id) {
  std::optional<Waiter> waiter;
  {
    absl::MutexLock lock(&mu_);
    waiter = Take(id);
  }
  if (waiter.has_value()) waiter->done(std::optional<v1::Lease>());
}

void LeaseWaitlist::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void LeaseWaitlist::Shutdown() {
  std::list<Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ && !dispatcher_.joinable()) return;
    stopped_ = true;
    waiters.swap(waiters_);
  }
  for (Waiter& waiter : waiters) waiter.done(std::optional<v1::Lease>());
  if (dispatcher_.joinable() && dispatcher_.get_id() != std::this_thread::get_id()) {
    dispatcher_.join();
  }
}

size_t LeaseWaitlist::parked() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

void LeaseWaitlist::Dispatch() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      absl::Time wake_at = absl::Now() + recheck_interval_;
      for (const Waiter& waiter : waiters_) wake_at = std::min(wake_at, waiter.deadline);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return woken_ || stopped_ || parked_since_wait_;
      };
      const bool signalled = mu_.AwaitWithDeadline(absl::Condition(&ready), wake_at);
      if (stopped_) return;
      if (signalled && !woken_) {
        // Only a new waiter: its deadline may come before wake_at; plan again.
        parked_since_wait_ = false;
        continue;
      }
      woken_ = false;
      parked_since_wait_ = false;
    }
    RetryParked();
  }
}

void LeaseWaitlist::RetryParked() {
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const Waiter& waiter : waiters_) ids.push_back(waiter.id);
  }
  for (uint64_t id : ids) {
    v1::LeaseRequest request;
    std::optional<Waiter> expired;
    {
      absl::MutexLock lock(&mu_);
      auto it = std::find_if(waiters_.begin(), waiters_.end(),
                             [id](const Waiter& w) { return w.id == id; });
      if (it == waiters_.end()) continue;  // cancelled meanwhile
      if (it->deadline <= absl::Now()) {
        expired = Take(id);
      } else {
        request = it->request;
      }
    }
    if (expired.has_value()) {
      expired->done(std::optional<v1::Lease>());
      continue;
    }
    LeaseResult result = try_lease_(request);
    if (result.ok() && !result->has_value()) continue;
    std::optional<Waiter> waiter;
    {
      absl::MutexLock lock(&mu_);
      waiter = Take(id);
    }
    if (waiter.has_value()) {
      waiter->done(std::move(result));
    } else if (result.ok()) {
      // The client left while we leased for it; the lease expires and the job returns.
      LOG(WARNING) << "event=lease_orphaned job=" << (*result)->job_id()
                   << " worker=" << request.worker_id();
    }
  }
}

}  // namespace llmq
