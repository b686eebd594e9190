// The paired bootstrap of a metric between a result and its baseline, over the examples
// both scored (matched by example id): what `results --ci --delta` shows. The metric's
// per-example series (ExampleScores in proto/llmq.proto) says how the examples make it,
// and common/bootstrap.h resamples them.
#ifndef LLMQ_REPORT_PAIRED_DELTA_H_
#define LLMQ_REPORT_PAIRED_DELTA_H_

#include <optional>
#include <string>

#include "common/bootstrap.h"
#include "proto/llmq.pb.h"

namespace llmq {

// The series of `scores` that makes `metric` as a ScoreSample, with the example ids in
// order; nullopt when there is none.
struct IdentifiedSample {
  std::vector<int64_t> ids;
  ScoreSample sample;
};
std::optional<IdentifiedSample> MetricSample(const v1::ExampleScores& scores,
                                             const std::string& metric);

// `result` − `baseline` (or result / baseline − 1 with kRelative) on the examples whose
// ids both have, in `result`'s order. nullopt when either lacks per-example scores for
// `metric` or they share no example.
std::optional<PairedDelta> PairedMetricDelta(const v1::JobResult& result,
                                             const v1::JobResult& baseline,
                                             const std::string& metric, DeltaScale scale);

}  // namespace llmq

#endif  // LLMQ_REPORT_PAIRED_DELTA_H_
