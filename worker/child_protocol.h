// The contract between the worker daemon and the `llmq-worker run-job` child it starts
// for each job:
//
//   <job command> --spec-file=F --result-file=R --progress-fd=3 [--device=D --threads=N
//                 --cache=DIR --cache-max-bytes=N]
//
// The child reads the JobSpec (binary proto) from F, writes the JobResult (binary proto)
// to R atomically, and writes progress records to fd 3 as text lines:
//
//   progress<TAB>stage<TAB>step<TAB>total<TAB>message<LF>
//
// Its exit code says how the job ended (ChildExitCode); a job that fails leaves its
// reason as the last stderr line starting with kErrorLinePrefix. Anything else the child
// prints goes to stderr, whose tail the daemon keeps for the error report.
#ifndef LLMQ_WORKER_CHILD_PROTOCOL_H_
#define LLMQ_WORKER_CHILD_PROTOCOL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/llmq.pb.h"

namespace llmq {

// Exit codes of `run-job`. 1, 2, 126, 127 and 128+n keep their shell meanings.
enum ChildExitCode : int {
  kChildSucceeded = 0,       // result file written
  kChildDeterministic = 10,  // bad input or a bug: kInvalidArgument, kNotFound, ...
  kChildOutOfMemory = 11,    // kResourceExhausted or std::bad_alloc
  kChildTransient = 12,      // kUnavailable, kAborted: may succeed on a retry
  kChildTimedOut = 13,       // kDeadlineExceeded inside the pipeline
  kChildSetupFailed = 14,    // the worker could not read the spec or write the result
  kChildExecFailed = 127,    // the job command could not be executed
};

// The file descriptor the child finds its progress pipe on.
inline constexpr int kProgressFd = 3;

// Prefix of the stderr line that carries the child's final error.
inline constexpr char kErrorLinePrefix[] = "LLMQ-ERROR: ";

// The exit code `run-job` uses for a pipeline status.
int ExitCodeForStatus(const absl::Status& status);

// One progress record as a line (with its trailing newline). Tabs and newlines inside
// fields become spaces; the message is cut to keep a record under 1 KB.
std::string EncodeProgressRecord(const v1::Progress& progress);

// Parses one line (without its newline); nullopt for a line that is not a record.
absl::optional<v1::Progress> DecodeProgressRecord(absl::string_view line);

// How a child ended, as waitpid reported it.
struct ChildExit {
  bool signaled = false;
  int exit_code = 0;  // when !signaled
  int signal = 0;     // when signaled
};

// "exit 10", "signal SIGSEGV".
std::string DescribeChildExit(const ChildExit& exit);

// A failed job as it is reported to the coordinator.
struct ClassifiedFailure {
  v1::ErrorClass error_class = v1::DETERMINISTIC;
  std::string error;
};

// Classifies a child that ended on its own (the daemon did not kill it) with a nonzero
// exit or a signal. `stderr_tail` ends up in the error text after a one-line summary.
ClassifiedFailure ClassifyChildFailure(const ChildExit& exit,
                                       absl::string_view stderr_tail);

}  // namespace llmq

#endif  // LLMQ_WORKER_CHILD_PROTOCOL_H_
