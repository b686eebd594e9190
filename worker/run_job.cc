#include "worker/run_job.h"

#include <cstdio>
#include <memory>
#include <new>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "common/status.h"
#include "glog/logging.h"
#include "google/protobuf/text_format.h"
#include "grid/grid.h"
#include "worker/child_protocol.h"
#include "worker/progress_sinks.h"
#include "worker/result_json.h"

namespace llmq {
namespace {

bool IsTextFormat(const std::string& path) {
  return absl::EndsWith(path, ".txtpb") || absl::EndsWith(path, ".textproto") ||
         absl::EndsWith(path, ".pbtxt");
}

// A single-job grid file (grid/grid.h): one value per axis; its model and dataset
// files' identities are computed here, as `submit` would.
absl::StatusOr<v1::JobSpec> ReadJobYaml(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string yaml, ReadFile(path));
  return ParseSingleJob(yaml, path);
}

// For the daemon, one LLMQ-ERROR line (child_protocol.h); for a person, the message as it
// is (grid errors come one problem per line).
int Fail(const absl::Status& status, int exit_code, bool for_daemon) {
  if (for_daemon) {
    const std::string message = absl::StrReplaceAll(status.ToString(), {{"\n", " "}});
    std::fprintf(stderr, "%s%s\n", kErrorLinePrefix, message.c_str());
  } else {
    std::fprintf(stderr, "llmq-worker run-job: %s\n", status.ToString().c_str());
  }
  std::fflush(stderr);
  return exit_code;
}

absl::StatusOr<v1::JobResult> RunPipelineGuarded(const v1::JobSpec& spec,
                                                 const PipelineOptions& options,
                                                 ProgressSink* progress) {
  try {
    return RunJobPipeline(spec, options, progress);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("uncaught exception: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<v1::JobSpec> ReadJobSpecFile(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  v1::JobSpec spec;
  const bool parsed = IsTextFormat(path)
                          ? google::protobuf::TextFormat::ParseFromString(bytes, &spec)
                          : spec.ParseFromString(bytes);
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a ", IsTextFormat(path) ? "text-format" : "binary", " JobSpec"));
  }
  return spec;
}

int RunJobCommand(const RunJobRequest& request, std::ostream& out) {
  const bool for_daemon = !request.result_file.empty();
  absl::StatusOr<v1::JobSpec> spec =
      !request.spec_file.empty() ? ReadJobSpecFile(request.spec_file)
      : !request.job_yaml.empty()
          ? ReadJobYaml(request.job_yaml)
          : absl::InvalidArgumentError("run-job needs --spec-file=F or a JOB.yaml");
  if (!spec.ok()) {
    // The daemon wrote that file: failing to read it is the worker's trouble, not the job's.
    return Fail(spec.status(),
                for_daemon ? kChildSetupFailed : ExitCodeForStatus(spec.status()), for_daemon);
  }

  std::unique_ptr<ProgressSink> progress;
  if (request.progress_fd >= 0) {
    progress = std::make_unique<PipeProgressSink>(request.progress_fd);
  } else {
    progress = std::make_unique<TerminalProgressSink>();
  }
  LOG(INFO) << "run-job start model=" << spec->model().alias()
            << " method=" << spec->method().name() << " task=" << spec->task().name()
            << " device=" << request.pipeline.device;
  absl::StatusOr<v1::JobResult> result =
      RunPipelineGuarded(*spec, request.pipeline, progress.get());
  if (!result.ok()) {
    return Fail(result.status(), ExitCodeForStatus(result.status()), for_daemon);
  }

  if (for_daemon) {
    const absl::Status written =
        WriteFileAtomically(request.result_file, result->SerializeAsString());
    if (!written.ok()) return Fail(written, kChildSetupFailed, for_daemon);
  } else {
    out << JobResultToJson(*result) << "\n";
    out.flush();
  }
  return kChildSucceeded;
}

}  // namespace llmq
