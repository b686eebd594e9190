#include "coordinator/job_state_machine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "storage/codec.h"

namespace llmq {
namespace {

bool IsLeased(JobState state) { return state == JobState::kLeased || state == JobState::kRunning; }

absl::Status NotAllowed(JobState from, JobEvent event) {
  return absl::FailedPreconditionError(absl::StrCat("a ", JobStateName(from), " job cannot ",
                                                    JobEventName(event)));
}

// A retryable failure: charged, backed off, FAILED once the attempts are used up.
Transition ChargedFailure(ErrorClass error_class, const JobCounters& counters,
                          const RetryPolicy& policy) {
  Transition t;
  t.ends_attempt = true;
  t.charged = true;
  const int failures = counters.failures + 1;
  const int max_attempts =
      counters.max_attempts > 0 ? counters.max_attempts : policy.default_max_attempts;
  const std::string name =
      error_class == ErrorClass::kUnspecified ? "unclassified" : ErrorClassName(error_class);
  if (failures >= max_attempts) {
    t.next = JobState::kFailed;
    t.reason = absl::StrCat(name, " failure, attempts exhausted (", failures, "/",
                            max_attempts, ")");
    return t;
  }
  t.next = JobState::kPending;
  t.backoff = policy.Delay(error_class, failures);
  t.wants_more_memory = error_class == ErrorClass::kOutOfMemory;
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

absl::Duration RetryPolicy::Delay(ErrorClass error_class, int n) const {
  Backoff backoff;
  switch (error_class) {
    case ErrorClass::kPreempted:
      return absl::ZeroDuration();
    case ErrorClass::kOutOfMemory:
      backoff = out_of_memory;
      break;
    case ErrorClass::kTimeout:
      backoff = timeout;
      break;
    case ErrorClass::kWorkerLost:
      backoff = worker_lost;
      break;
    default:
      backoff = transient;
  }
  absl::Duration delay = backoff.base;
  for (int i = 1; i < n && delay < backoff.max; ++i) delay *= 2;
  return std::min(delay, backoff.max);
}

absl::StatusOr<Transition> DecideTransition(JobState from, JobEvent event,
                                            ErrorClass error_class,
                                            const JobCounters& counters,
                                            const RetryPolicy& policy) {
  Transition t;
  switch (event) {
    case JobEvent::kLease:
      if (from != JobState::kPending) return NotAllowed(from, event);
      t.next = JobState::kLeased;
      return t;

    case JobEvent::kStart:
      if (from == JobState::kLeased || from == JobState::kRunning) {
        t.next = JobState::kRunning;
      } else if (from == JobState::kCancelled) {
        t.next = JobState::kCancelled;  // the heartbeat is answered "cancel"
      } else {
        return NotAllowed(from, event);
      }
      return t;

    case JobEvent::kSucceed:
      if (!IsLeased(from) && from != JobState::kCancelled) return NotAllowed(from, event);
      t.next = JobState::kSucceeded;
      t.ends_attempt = true;
      return t;

    case JobEvent::kFail:
      if (from == JobState::kCancelled) {
        t.next = JobState::kCancelled;
        t.ends_attempt = true;
        return t;
      }
      if (!IsLeased(from)) return NotAllowed(from, event);
      switch (error_class) {
        case ErrorClass::kDeterministic:
          t.next = JobState::kFailed;
          t.ends_attempt = true;
          t.reason = "deterministic failure, not retried";
          return t;
        case ErrorClass::kPreempted:
          t.next = JobState::kPending;
          t.ends_attempt = true;
          t.reason = "preempted, requeued";
          return t;
        case ErrorClass::kWorkerLost:
          // A worker reporting its own loss: treated like a lease expiry.
          return DecideTransition(from, JobEvent::kExpire, error_class, counters, policy);
        default:
          return ChargedFailure(error_class, counters, policy);
      }

    case JobEvent::kReturn:
      if (from == JobState::kCancelled) {
        t.next = JobState::kCancelled;
      } else if (IsLeased(from)) {
        t.next = JobState::kPending;
        t.reason = "returned by its worker, requeued";
      } else {
        return NotAllowed(from, event);
      }
      t.ends_attempt = true;
      return t;

    case JobEvent::kExpire: {
      t.ends_attempt = true;
      if (from == JobState::kCancelled) {
        t.next = JobState::kCancelled;
        return t;
      }
      if (!IsLeased(from)) return NotAllowed(from, event);
      t.worker_death = true;
      const int deaths = counters.worker_deaths + 1;
      if (deaths >= policy.poison_after_worker_deaths) {
        t.next = JobState::kFailed;
        t.poisoned = true;
        t.reason = absl::StrCat("poisoned: ", deaths, " workers died or lost contact running it");
        return t;
      }
      t.next = JobState::kPending;
      t.backoff = policy.Delay(ErrorClass::kWorkerLost, deaths);
      t.reason = absl::StrCat("lease expired (worker death ", deaths, "/",
                              policy.poison_after_worker_deaths, "), retry in ",
                              absl::FormatDuration(t.backoff));
      return t;
    }

    case JobEvent::kCancel:
      if (from != JobState::kPending && !IsLeased(from)) return NotAllowed(from, event);
      t.next = JobState::kCancelled;
      t.reason = "cancelled by the user";
      return t;

    case JobEvent::kRetry:
      if (from != JobState::kFailed && from != JobState::kCancelled) return NotAllowed(from, event);
      t.next = JobState::kPending;
      return t;
  }
  return NotAllowed(from, event);
}

std::vector<JobState> StatesAllowing(JobEvent event) {
  std::vector<JobState> states;
  for (JobState state : {JobState::kPending, JobState::kLeased, JobState::kRunning,
                         JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    if (DecideTransition(state, event, ErrorClass::kTransient, JobCounters{}, RetryPolicy{}).ok()) {
      states.push_back(state);
    }
  }
  return states;
}

}  // namespace llmq
