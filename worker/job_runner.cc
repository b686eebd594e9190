#include "worker/job_runner.h"

#include <csignal>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/files.h"
#include "glog/logging.h"

namespace llmq {

std::string JobLabel(int64_t job_id, int32_t attempt) {
  return absl::StrCat("job=", job_id, " attempt=", attempt);
}

namespace {

std::string LeaseLabel(const v1::Lease& lease) { return JobLabel(lease.job_id(), lease.attempt()); }

std::string ProgressLabel(const v1::Progress& progress) {
  std::string label = absl::StrCat("stage=", progress.stage().empty() ? "starting"
                                                                       : progress.stage());
  if (progress.total() > 0) {
    absl::StrAppend(&label, " step=", progress.step(), "/", progress.total());
  }
  return label;
}

// What the coordinator said about the lease, as far as the job is concerned.
enum class Verdict { kContinue, kCancelled, kLeaseLost };

// Sends a heartbeat at once and then every interval from its own thread, with the
// latest progress, until Stop(). A heartbeat that fails leaves the job running: the
// coordinator may be down for a while.
class HeartbeatLoop {
 public:
  HeartbeatLoop(const v1::Lease& lease, const HeartbeatFn& send, absl::Duration interval)
      : lease_(lease), send_(send), interval_(interval),
        thread_([this] { Loop(); }) {}
  ~HeartbeatLoop() { Stop(); }

  void SetProgress(const v1::Progress& progress) {
    absl::MutexLock lock(&mu_);
    progress_ = progress;
  }
  v1::Progress progress() const {
    absl::MutexLock lock(&mu_);
    return progress_;
  }
  Verdict verdict() const {
    absl::MutexLock lock(&mu_);
    return verdict_;
  }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    bool failing = false;
    while (true) {
      const v1::Progress progress = this->progress();
      absl::StatusOr<v1::HeartbeatResponse> response = send_(progress);
      if (!response.ok()) {
        if (!failing) {
          LOG(WARNING) << "heartbeat failed " << LeaseLabel(lease_)
                       << " error=" << response.status() << " (job keeps running)";
        }
        failing = true;
      } else {
        if (failing) LOG(INFO) << "heartbeat answered again " << LeaseLabel(lease_);
        failing = false;
        LOG(INFO) << "heartbeat " << LeaseLabel(lease_) << " " << ProgressLabel(progress);
        Verdict verdict = Verdict::kContinue;
        if (!response->lease_valid()) {
          verdict = Verdict::kLeaseLost;
        } else if (response->cancel()) {
          verdict = Verdict::kCancelled;
        }
        if (verdict != Verdict::kContinue) {
          absl::MutexLock lock(&mu_);
          verdict_ = verdict;
          return;
        }
      }
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
      if (stopping_) return;
    }
  }

  const v1::Lease& lease_;
  const HeartbeatFn& send_;
  const absl::Duration interval_;
  mutable absl::Mutex mu_;
  v1::Progress progress_ ABSL_GUARDED_BY(mu_);
  Verdict verdict_ ABSL_GUARDED_BY(mu_) = Verdict::kContinue;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it reads
};

// Why the runner killed the child, if it did.
enum class KillReason { kNone, kTimeout, kDrain, kCancelled, kLeaseLost };

JobOutcome Failure(v1::ErrorClass error_class, std::string error) {
  JobOutcome outcome;
  outcome.kind = JobOutcome::Kind::kFailed;
  outcome.error_class = error_class;
  outcome.error = std::move(error);
  return outcome;
}

std::string WithStderr(std::string error, const std::string& stderr_tail) {
  if (!stderr_tail.empty()) {
    absl::StrAppend(&error, "\n--- last stderr lines ---\n", stderr_tail);
  }
  return error;
}

// The outcome of a child that ended on its own.
JobOutcome NaturalOutcome(const ChildExit& exit, const std::string& result_path,
                          const std::string& stderr_tail) {
  if (exit.signaled || exit.exit_code != kChildSucceeded) {
    ClassifiedFailure failure = ClassifyChildFailure(exit, stderr_tail);
    return Failure(failure.error_class, std::move(failure.error));
  }
  absl::StatusOr<std::string> bytes = ReadFile(result_path);
  JobOutcome outcome;
  if (!bytes.ok() || !outcome.result.ParseFromString(*bytes)) {
    return Failure(v1::DETERMINISTIC,
                   WithStderr(absl::StrCat("job process exited 0 without a readable result "
                                           "file ", result_path),
                              stderr_tail));
  }
  outcome.kind = JobOutcome::Kind::kSucceeded;
  return outcome;
}

}  // namespace

const char* JobOutcomeName(JobOutcome::Kind kind) {
  switch (kind) {
    case JobOutcome::Kind::kSucceeded: return "succeeded";
    case JobOutcome::Kind::kFailed: return "failed";
    case JobOutcome::Kind::kReturned: return "returned";
    case JobOutcome::Kind::kCancelled: return "cancelled";
    case JobOutcome::Kind::kLeaseLost: return "lease_lost";
  }
  return "unknown";
}

JobRunner::JobRunner(JobRunnerOptions options, const DrainSignal* drain)
    : options_(std::move(options)), drain_(drain) {}

JobOutcome JobRunner::Run(const v1::Lease& lease, const std::string& spec_path,
                          const std::string& result_path, const HeartbeatFn& heartbeat) {
  std::vector<std::string> argv = options_.command;
  argv.push_back(absl::StrCat("--spec-file=", spec_path));
  argv.push_back(absl::StrCat("--result-file=", result_path));
  argv.push_back(absl::StrCat("--progress-fd=", kProgressFd));
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());

  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ChildProcess>> started =
      ChildProcess::Start(argv, options_.child);
  if (!started.ok()) {
    return Failure(v1::TRANSIENT,
                   absl::StrCat("cannot start the job process: ", started.status().message()));
  }
  ChildProcess& child = **started;
  LOG(INFO) << "job started " << LeaseLabel(lease) << " pid=" << child.pid();

  const int64_t timeout_seconds = lease.spec().timeout_seconds();
  const absl::Time timeout_at =
      timeout_seconds > 0 ? start + absl::Seconds(timeout_seconds) : absl::InfiniteFuture();
  HeartbeatLoop heartbeats(lease, heartbeat, options_.heartbeat_interval);
  KillReason kill_reason = KillReason::kNone;
  v1::Progress progress;
  absl::optional<ChildExit> exit;
  while (!exit.has_value()) {
    std::vector<std::string> lines;
    exit = child.Poll(options_.poll_interval, &lines);
    for (const std::string& line : lines) {
      absl::optional<v1::Progress> record = DecodeProgressRecord(line);
      if (!record.has_value()) continue;
      if (record->stage() != progress.stage()) {
        LOG(INFO) << LeaseLabel(lease) << " " << ProgressLabel(*record);
      }
      progress = *std::move(record);
      heartbeats.SetProgress(progress);
    }
    if (exit.has_value() || kill_reason != KillReason::kNone) continue;

    const Verdict verdict = heartbeats.verdict();
    const absl::Time now = absl::Now();
    if (verdict == Verdict::kLeaseLost) {
      kill_reason = KillReason::kLeaseLost;
    } else if (verdict == Verdict::kCancelled) {
      kill_reason = KillReason::kCancelled;
    } else if (now >= timeout_at) {
      kill_reason = KillReason::kTimeout;
    } else if (drain_->stop_now() ||
               now >= drain_->drain_requested_at() + options_.drain_grace) {
      kill_reason = KillReason::kDrain;
    }
    if (kill_reason != KillReason::kNone) child.Kill();
  }
  heartbeats.Stop();
  const std::string stderr_tail = child.StderrTail();
  const absl::Duration elapsed = absl::Now() - start;
  const bool died_of_kill = exit->signaled && exit->signal == SIGKILL;

  JobOutcome outcome;
  switch (kill_reason) {
    case KillReason::kLeaseLost:
      outcome.kind = JobOutcome::Kind::kLeaseLost;
      outcome.error = "the coordinator no longer holds this lease";
      break;
    case KillReason::kCancelled:
      outcome.kind = JobOutcome::Kind::kCancelled;
      outcome.error_class = v1::PREEMPTED;
      outcome.error = "cancelled by the coordinator";
      break;
    case KillReason::kTimeout:
      if (!died_of_kill) {  // it finished on its own as the timeout struck
        outcome = NaturalOutcome(*exit, result_path, stderr_tail);
        break;
      }
      outcome = Failure(v1::TIMEOUT,
                        WithStderr(absl::StrCat("job exceeded its timeout of ",
                                                timeout_seconds, " s at ",
                                                ProgressLabel(progress)),
                                   stderr_tail));
      break;
    case KillReason::kDrain:
      if (!died_of_kill) {
        outcome = NaturalOutcome(*exit, result_path, stderr_tail);
        break;
      }
      outcome.kind = JobOutcome::Kind::kReturned;
      outcome.error_class = v1::PREEMPTED;
      outcome.error = absl::StrCat("worker draining: job stopped at ",
                                   ProgressLabel(progress), " and handed back");
      break;
    case KillReason::kNone:
      outcome = NaturalOutcome(*exit, result_path, stderr_tail);
      break;
  }
  LOG(INFO) << "job ended " << LeaseLabel(lease) << " outcome=" << JobOutcomeName(outcome.kind)
            << " exit=\"" << DescribeChildExit(*exit) << "\" seconds="
            << absl::ToDoubleSeconds(elapsed)
            << (outcome.error_class != v1::ERROR_CLASS_UNSPECIFIED
                    ? absl::StrCat(" error_class=", v1::ErrorClass_Name(outcome.error_class))
                    : "");
  return outcome;
}

}  // namespace llmq
