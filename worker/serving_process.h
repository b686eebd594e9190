// Serving a model that this job quantized, in a fresh process. After quantizing, the
// job's process still holds what quantization did to it: library code it ran, BLAS
// thread buffers its large GEMMs touched, a heap shaped by calibration. None of that is
// the model's, yet it counts in the process's memory even after the high-water mark is
// reset (measured: +7 MB on stories260K, +23 MB on a 45M-parameter model, against a
// process that only loaded the same export; on stories260K more than 4-bit weights save)
// and may count in its timings. So the pipeline exports the quantized model and runs the
// task in a fresh `llmq-worker run-job` that loads the export, as a deployment would.
#ifndef LLMQ_WORKER_SERVING_PROCESS_H_
#define LLMQ_WORKER_SERVING_PROCESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"
#include "worker/pipeline.h"

namespace llmq {

struct ServingProcessRequest {
  // argv prefix of the process, e.g. {"/usr/bin/llmq-worker", "run-job"}; the flags of
  // child_protocol.h follow.
  std::vector<std::string> command;
  v1::JobSpec spec;
  std::string cache_dir;          // an artifact cache that holds spec.quant_key()
  int64_t cache_max_bytes = 0;
  std::string device;
  int threads = 0;
  std::string work_dir;           // the spec and result files go here
};

// Runs the job in a fresh process, passing its progress records on to `progress` (may be
// null), and returns its result. A failure keeps its class: out of memory is
// kResourceExhausted, a timeout kDeadlineExceeded, a crash or a transient failure
// kUnavailable, anything else kInternal; the message carries the process's error.
absl::StatusOr<v1::JobResult> RunInServingProcess(const ServingProcessRequest& request,
                                                  ProgressSink* progress);

}  // namespace llmq

#endif  // LLMQ_WORKER_SERVING_PROCESS_H_
