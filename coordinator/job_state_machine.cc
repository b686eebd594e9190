#include "coordinator/job_state_machine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace llmq {
namespace {

bool IsLeased(v1::JobState state) { return state == v1::LEASED || state == v1::RUNNING; }

absl::Status NotAllowed(v1::JobState from, JobEvent event) {
  return absl::FailedPreconditionError(absl::StrCat("a ", v1::JobState_Name(from), " job cannot ",
                                                    JobEventName(event)));
}

// A retryable failure: charged, backed off, FAILED once the attempts are used up.
Transition ChargedFailure(v1::ErrorClass error_class, const JobCounters& counters,
                          const RetryPolicy& policy) {
  Transition t;
  t.ends_attempt = true;
  t.charged = true;
  const int failures = counters.failures + 1;
  const int max_attempts =
      counters.max_attempts > 0 ? counters.max_attempts : policy.default_max_attempts;
  const std::string name = error_class == v1::ERROR_CLASS_UNSPECIFIED
                               ? "unclassified"
                               : v1::ErrorClass_Name(error_class);
  if (failures >= max_attempts) {
    t.next = v1::FAILED;
    t.reason = absl::StrCat(name, " failure, attempts exhausted (", failures, "/",
                            max_attempts, ")");
    return t;
  }
  t.next = v1::PENDING;
  t.backoff = policy.Delay(error_class, failures);
  t.wants_more_memory = error_class == v1::OUT_OF_MEMORY;
  t.reason = absl::StrCat(name, " failure ", failures, "/", max_attempts, ", retry in ",
                          absl::FormatDuration(t.backoff));
  return t;
}

}  // namespace

const char* JobEventName(JobEvent event) {
  switch (event) {
    case JobEvent::kLease: return "lease";
    case JobEvent::kStart: return "start";
    case JobEvent::kSucceed: return "succeed";
    case JobEvent::kFail: return "fail";
    case JobEvent::kReturn: return "return";
    case JobEvent::kExpire: return "expire";
    case JobEvent::kCancel: return "cancel";
    case JobEvent::kRetry: return "retry";
  }
  return "unknown";
}

absl::Duration RetryPolicy::Delay(v1::ErrorClass error_class, int n) const {
  Backoff backoff;
  switch (error_class) {
    case v1::PREEMPTED:
      return absl::ZeroDuration();
    case v1::OUT_OF_MEMORY:
      backoff = out_of_memory;
      break;
    case v1::TIMEOUT:
      backoff = timeout;
      break;
    case v1::WORKER_LOST:
      backoff = worker_lost;
      break;
    default:
      backoff = transient;
  }
  absl::Duration delay = backoff.base;
  for (int i = 1; i < n && delay < backoff.max; ++i) delay *= 2;
  return std::min(delay, backoff.max);
}

absl::StatusOr<Transition> DecideTransition(v1::JobState from, JobEvent event,
                                            v1::ErrorClass error_class,
                                            const JobCounters& counters,
                                            const RetryPolicy& policy) {
  Transition t;
  switch (event) {
    case JobEvent::kLease:
      if (from != v1::PENDING) return NotAllowed(from, event);
      t.next = v1::LEASED;
      return t;

    case JobEvent::kStart:
      if (from == v1::LEASED || from == v1::RUNNING) {
        t.next = v1::RUNNING;
      } else if (from == v1::CANCELLED) {
        t.next = v1::CANCELLED;  // the heartbeat is answered "cancel"
      } else {
        return NotAllowed(from, event);
      }
      return t;

    case JobEvent::kSucceed:
      if (!IsLeased(from) && from != v1::CANCELLED) return NotAllowed(from, event);
      t.next = v1::SUCCEEDED;
      t.ends_attempt = true;
      return t;

    case JobEvent::kFail:
      if (from == v1::CANCELLED) {
        t.next = v1::CANCELLED;
        t.ends_attempt = true;
        return t;
      }
      if (!IsLeased(from)) return NotAllowed(from, event);
      switch (error_class) {
        case v1::DETERMINISTIC:
          t.next = v1::FAILED;
          t.ends_attempt = true;
          t.reason = "deterministic failure, not retried";
          return t;
        case v1::PREEMPTED:
          t.next = v1::PENDING;
          t.ends_attempt = true;
          t.reason = "preempted, requeued";
          return t;
        case v1::WORKER_LOST:
          // A worker reporting its own loss: treated like a lease expiry.
          return DecideTransition(from, JobEvent::kExpire, error_class, counters, policy);
        default:
          return ChargedFailure(error_class, counters, policy);
      }

    case JobEvent::kReturn:
      if (from == v1::CANCELLED) {
        t.next = v1::CANCELLED;
      } else if (IsLeased(from)) {
        t.next = v1::PENDING;
        t.reason = "returned by its worker, requeued";
      } else {
        return NotAllowed(from, event);
      }
      t.ends_attempt = true;
      return t;

    case JobEvent::kExpire: {
      t.ends_attempt = true;
      if (from == v1::CANCELLED) {
        t.next = v1::CANCELLED;
        return t;
      }
      if (!IsLeased(from)) return NotAllowed(from, event);
      t.worker_death = true;
      const int deaths = counters.worker_deaths + 1;
      if (deaths >= policy.poison_after_worker_deaths) {
        t.next = v1::FAILED;
        t.poisoned = true;
        t.reason = absl::StrCat("poisoned: ", deaths, " workers died or lost contact running it");
        return t;
      }
      t.next = v1::PENDING;
      t.backoff = policy.Delay(v1::WORKER_LOST, deaths);
      t.reason = absl::StrCat("lease expired (worker death ", deaths, "/",
                              policy.poison_after_worker_deaths, "), retry in ",
                              absl::FormatDuration(t.backoff));
      return t;
    }

    case JobEvent::kCancel:
      if (from != v1::PENDING && !IsLeased(from)) return NotAllowed(from, event);
      t.next = v1::CANCELLED;
      t.reason = "cancelled by the user";
      return t;

    case JobEvent::kRetry:
      if (from != v1::FAILED && from != v1::CANCELLED) return NotAllowed(from, event);
      t.next = v1::PENDING;
      return t;
  }
  return NotAllowed(from, event);
}

std::vector<v1::JobState> StatesAllowing(JobEvent event) {
  std::vector<v1::JobState> states;
  for (v1::JobState state : {v1::PENDING, v1::LEASED, v1::RUNNING, v1::SUCCEEDED, v1::FAILED,
                             v1::CANCELLED}) {
    if (DecideTransition(state, event, v1::TRANSIENT, JobCounters{}, RetryPolicy{}).ok()) {
      states.push_back(state);
    }
  }
  return states;
}

}  // namespace llmq
