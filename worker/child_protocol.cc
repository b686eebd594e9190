#include "worker/child_protocol.h"

#include <csignal>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace llmq {
namespace {

constexpr size_t kMaxMessageBytes = 900;

std::string CleanField(absl::string_view field, size_t max_bytes) {
  std::string out(field.substr(0, max_bytes));
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string SignalName(int signal) {
  switch (signal) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGPIPE: return "SIGPIPE";
    case SIGXCPU: return "SIGXCPU";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return absl::StrCat("signal ", signal);
  }
}

// The child's own account of its failure: the last "LLMQ-ERROR: " line, if any.
std::string LastErrorLine(absl::string_view stderr_tail) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(stderr_tail, '\n')) {
    if (absl::ConsumePrefix(&line, kErrorLinePrefix)) found = std::string(line);
  }
  return found;
}

}  // namespace

int ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kChildSucceeded;
    case absl::StatusCode::kResourceExhausted:
      return kChildOutOfMemory;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
      return kChildTransient;
    case absl::StatusCode::kDeadlineExceeded:
      return kChildTimedOut;
    default:
      // kInvalidArgument, kNotFound, kFailedPrecondition, and bugs (kInternal,
      // kUnimplemented, ...): retrying the same input gives the same answer.
      return kChildDeterministic;
  }
}

std::string EncodeProgressRecord(const v1::Progress& progress) {
  return absl::StrCat("progress\t", CleanField(progress.stage(), 64), "\t",
                      progress.step(), "\t", progress.total(), "\t",
                      CleanField(progress.message(), kMaxMessageBytes), "\n");
}

absl::optional<v1::Progress> DecodeProgressRecord(absl::string_view line) {
  absl::ConsumeSuffix(&line, "\r");
  std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits('\t', 4));
  if (fields.size() < 4 || fields[0] != "progress") return absl::nullopt;
  v1::Progress progress;
  int64_t step = 0;
  int64_t total = 0;
  if (!absl::SimpleAtoi(fields[2], &step) || !absl::SimpleAtoi(fields[3], &total)) {
    return absl::nullopt;
  }
  progress.set_stage(std::string(fields[1]));
  progress.set_step(step);
  progress.set_total(total);
  if (fields.size() == 5) progress.set_message(std::string(fields[4]));
  return progress;
}

std::string DescribeChildExit(const ChildExit& exit) {
  if (exit.signaled) return absl::StrCat("signal ", SignalName(exit.signal));
  return absl::StrCat("exit ", exit.exit_code);
}

ClassifiedFailure ClassifyChildFailure(const ChildExit& exit,
                                       absl::string_view stderr_tail) {
  ClassifiedFailure failure;
  std::string summary;
  if (exit.signaled) {
    switch (exit.signal) {
      case SIGKILL:
        // Nobody but the kernel's OOM killer sends SIGKILL to a job the daemon did not
        // kill itself (the daemon's own kills never reach this function).
        failure.error_class = v1::OUT_OF_MEMORY;
        summary = "job process killed by SIGKILL (most likely the kernel's out-of-memory "
                  "killer)";
        break;
      case SIGTERM:
      case SIGINT:
      case SIGHUP:
      case SIGQUIT:
        failure.error_class = v1::PREEMPTED;
        summary = absl::StrCat("job process stopped by ", SignalName(exit.signal),
                               " from outside the worker");
        break;
      default:
        failure.error_class = v1::CRASHED;
        summary = absl::StrCat("job process crashed with ", SignalName(exit.signal));
        break;
    }
  } else {
    switch (exit.exit_code) {
      case kChildDeterministic:
        failure.error_class = v1::DETERMINISTIC;
        break;
      case kChildOutOfMemory:
        failure.error_class = v1::OUT_OF_MEMORY;
        break;
      case kChildTransient:
      case kChildSetupFailed:
      case kChildExecFailed:
      case 126:
        failure.error_class = v1::TRANSIENT;
        break;
      case kChildTimedOut:
        failure.error_class = v1::TIMEOUT;
        break;
      default:
        failure.error_class = v1::DETERMINISTIC;
        break;
    }
    summary = absl::StrCat("job process failed (", DescribeChildExit(exit), ")");
  }
  const std::string reason = LastErrorLine(stderr_tail);
  failure.error = reason.empty() ? summary : absl::StrCat(summary, ": ", reason);
  if (!stderr_tail.empty()) {
    absl::StrAppend(&failure.error, "\n--- last stderr lines ---\n", stderr_tail);
  }
  return failure;
}

}  // namespace llmq
