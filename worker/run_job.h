// `llmq-worker run-job`: one job in this process, through RunJobPipeline.
//
//   Daemon form (child_protocol.h): --spec-file=F --result-file=R --progress-fd=3
//     writes the JobResult to R; the exit code classifies a failure.
//   User form: run-job --spec-file=JOB.txtpb, or run-job JOB.yaml (one value per grid
//     axis): prints the result as JSON (result_json.h) on stdout, progress on stderr.
#ifndef LLMQ_WORKER_RUN_JOB_H_
#define LLMQ_WORKER_RUN_JOB_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"
#include "worker/pipeline.h"

namespace llmq {

struct RunJobRequest {
  std::string spec_file;    // binary JobSpec; text format if it ends .txtpb/.textproto/.pbtxt
  std::string job_yaml;     // a single-job grid file (instead of spec_file)
  std::string result_file;  // empty: print JSON to `out`
  int progress_fd = -1;     // -1: progress to stderr for a person
  PipelineOptions pipeline;
};

// Runs the job and returns the process exit code (ChildExitCode). For the daemon (a
// result_file is given) a failure is written to stderr as the line "LLMQ-ERROR: <status>".
int RunJobCommand(const RunJobRequest& request, std::ostream& out);

// Reads a JobSpec from a spec file (format by extension, as above).
absl::StatusOr<v1::JobSpec> ReadJobSpecFile(const std::string& path);

}  // namespace llmq

#endif  // LLMQ_WORKER_RUN_JOB_H_
