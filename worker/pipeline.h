// One job's pipeline, in-process: load the model -> draw calibration samples -> quantize
// (or reuse a cached artifact) -> evaluate the task -> measure -> a JobResult.
// `llmq-worker run-job` calls it in a child process of the daemon, so a crash or an
// out-of-memory kill of one job never takes the daemon down; with a serving command, a
// job that quantizes evaluates in a second, fresh process on its export.
#ifndef LLMQ_WORKER_PIPELINE_H_
#define LLMQ_WORKER_PIPELINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"

namespace llmq {

// Receives progress as the job runs (stage, step i of n). Implementations must be cheap:
// the pipeline calls them from its hot loops.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void Report(const std::string& stage, int64_t step, int64_t total,
                      const std::string& message) = 0;
};

struct PipelineOptions {
  std::string device = "cpu";     // "cpu", "cuda", "cuda:1"
  int threads = 0;                // intra-op threads; 0 = the cores this process may use
  std::string artifact_cache;     // directory of cached quantized models; empty = none
  int64_t artifact_cache_bytes = 0;  // size limit of that cache (0 = unlimited)
  // argv prefix of a fresh `run-job` process, e.g. {"/usr/bin/llmq-worker", "run-job"}.
  // When set, a job that quantizes exports the model (to the artifact cache, else to a
  // temporary one) and runs its task in that process, on the export
  // (worker/serving_process.h), so memory and timings are the quantized model's and not
  // what quantizing left behind. Empty: in this process, after resetting the peaks.
  std::vector<std::string> serving_command;
};

// Runs `spec` to completion. Errors carry a message a researcher can act on; the
// caller classifies them (out of memory, bad input, ...) from the status code:
//   kInvalidArgument / kNotFound / kFailedPrecondition -> deterministic,
//   kResourceExhausted -> out of memory, kUnavailable -> transient.
absl::StatusOr<v1::JobResult> RunJobPipeline(const v1::JobSpec& spec,
                                             const PipelineOptions& options,
                                             ProgressSink* progress);

}  // namespace llmq

#endif  // LLMQ_WORKER_PIPELINE_H_
