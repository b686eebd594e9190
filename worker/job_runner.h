// Runs one leased job in a child process to its end: starts the job command, turns its
// progress records into heartbeats, enforces the job's timeout, stops it when the
// coordinator cancels it or takes the lease back, and hands it back when a drain's grace
// period runs out. The daemon turns the JobOutcome into a report.
#ifndef LLMQ_WORKER_JOB_RUNNER_H_
#define LLMQ_WORKER_JOB_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/llmq.pb.h"
#include "worker/child_process.h"
#include "worker/drain_signal.h"

namespace llmq {

// "job=12 attempt=1", how every log line names an attempt.
std::string JobLabel(int64_t job_id, int32_t attempt);

struct JobRunnerOptions {
  // argv prefix of the job process, e.g. {"/usr/bin/llmq-worker", "run-job"}; the flags
  // of child_protocol.h follow, then `extra_args`.
  std::vector<std::string> command;
  std::vector<std::string> extra_args;
  absl::Duration heartbeat_interval = absl::Seconds(10);
  absl::Duration drain_grace = absl::Seconds(30);
  absl::Duration poll_interval = absl::Milliseconds(100);
  ChildProcessOptions child;
};

struct JobOutcome {
  enum class Kind {
    kSucceeded,  // result holds the JobResult
    kFailed,     // error_class and error say why
    kReturned,   // stopped unfinished by a drain: hand the lease back
    kCancelled,  // the coordinator cancelled the job; the child was killed
    kLeaseLost,  // the coordinator says the lease is gone; the child was killed
  };
  Kind kind = Kind::kFailed;
  v1::JobResult result;
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  std::string error;
};

const char* JobOutcomeName(JobOutcome::Kind kind);

// Sends one heartbeat carrying `progress`. Called from the runner's heartbeat thread.
using HeartbeatFn =
    std::function<absl::StatusOr<v1::HeartbeatResponse>(const v1::Progress& progress)>;

class JobRunner {
 public:
  // `drain` must outlive the runner.
  JobRunner(JobRunnerOptions options, const DrainSignal* drain);

  // Runs the job of `lease` whose spec is at spec_path; the child writes its result to
  // result_path. Blocks until the child has ended and been reaped. Call from a thread
  // that outlives the child (see child_process.h).
  JobOutcome Run(const v1::Lease& lease, const std::string& spec_path,
                 const std::string& result_path, const HeartbeatFn& heartbeat);

 private:
  const JobRunnerOptions options_;
  const DrainSignal* const drain_;
};

}  // namespace llmq

#endif  // LLMQ_WORKER_JOB_RUNNER_H_
