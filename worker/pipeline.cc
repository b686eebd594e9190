// PLACEHOLDER, replaced on merge: the real RunJobPipeline (load -> calibrate -> quantize
// -> evaluate) lives on another branch. This stub lets the worker daemon build and be
// tested without it.
#include "worker/pipeline.h"

namespace llmq {

absl::StatusOr<v1::JobResult> RunJobPipeline(const v1::JobSpec& spec,
                                             const PipelineOptions& options,
                                             ProgressSink* progress) {
  (void)spec;
  (void)options;
  if (progress != nullptr) progress->Report("load", 0, 1, "placeholder pipeline");
  return absl::UnimplementedError(
      "RunJobPipeline is a placeholder in this build (worker/pipeline.cc)");
}

}  // namespace llmq
