#include "worker/serving_process.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "common/status.h"
#include "worker/child_process.h"
#include "worker/child_protocol.h"

namespace llmq {
namespace {

absl::Status StatusForFailure(const ClassifiedFailure& failure) {
  const std::string message = absl::StrCat("serving process: ", failure.error);
  switch (failure.error_class) {
    case v1::OUT_OF_MEMORY:
      return absl::ResourceExhaustedError(message);
    case v1::TIMEOUT:
      return absl::DeadlineExceededError(message);
    case v1::TRANSIENT:
    case v1::PREEMPTED:
    case v1::CRASHED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<v1::JobResult> RunInServingProcess(const ServingProcessRequest& request,
                                                  ProgressSink* progress) {
  if (request.command.empty()) return absl::InvalidArgumentError("serving process: no command");
  const std::string spec_path = JoinPath(request.work_dir, "serve_spec.pb");
  const std::string result_path = JoinPath(request.work_dir, "serve_result.pb");
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(spec_path, request.spec.SerializeAsString()));
  std::vector<std::string> argv = request.command;
  for (std::string flag :
       {absl::StrCat("--spec-file=", spec_path), absl::StrCat("--result-file=", result_path),
        absl::StrCat("--progress-fd=", kProgressFd), absl::StrCat("--device=", request.device),
        absl::StrCat("--threads=", request.threads), absl::StrCat("--cache=", request.cache_dir),
        absl::StrCat("--cache-max-bytes=", request.cache_max_bytes)}) {
    argv.push_back(std::move(flag));
  }
  ChildProcessOptions child_options;
  child_options.forward_stderr = true;  // its log lines belong to this job's log
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Start(argv, child_options));
  std::vector<std::string> lines;
  absl::optional<ChildExit> exit;
  while (!exit.has_value()) {
    exit = child->Poll(absl::Milliseconds(200), &lines);
    for (const std::string& line : lines) {
      const absl::optional<v1::Progress> record = DecodeProgressRecord(line);
      if (record.has_value() && progress != nullptr) {
        progress->Report(record->stage(), record->step(), record->total(), record->message());
      }
    }
    lines.clear();
  }
  if (exit->signaled || exit->exit_code != kChildSucceeded) {
    return StatusForFailure(ClassifyChildFailure(*exit, child->StderrTail()));
  }
  LLMQ_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(result_path));
  v1::JobResult result;
  if (!result.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("serving process: ", result_path, " is not a JobResult"));
  }
  return result;
}

}  // namespace llmq
