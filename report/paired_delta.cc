#include "report/paired_delta.h"

#include <unordered_map>

namespace llmq {

std::optional<IdentifiedSample> MetricSample(const v1::ExampleScores& scores,
                                             const std::string& metric) {
  for (const v1::ScoreSeries& series : scores.series()) {
    if (series.metric() != metric || series.values_size() != scores.example_ids_size()) continue;
    if (series.weights_size() != 0 && series.weights_size() != series.values_size()) continue;
    IdentifiedSample out;
    out.ids.assign(scores.example_ids().begin(), scores.example_ids().end());
    out.sample.values.assign(series.values().begin(), series.values().end());
    out.sample.weights.assign(series.weights().begin(), series.weights().end());
    out.sample.transform = series.transform() == "exp" ? ScoreTransform::kExp : ScoreTransform::kIdentity;
    return out;
  }
  return std::nullopt;
}

std::optional<PairedDelta> PairedMetricDelta(const v1::JobResult& result,
                                             const v1::JobResult& baseline,
                                             const std::string& metric, DeltaScale scale) {
  const std::optional<IdentifiedSample> a = MetricSample(result.example_scores(), metric);
  const std::optional<IdentifiedSample> b = MetricSample(baseline.example_scores(), metric);
  if (!a.has_value() || !b.has_value()) return std::nullopt;
  std::unordered_map<int64_t, size_t> in_baseline;
  for (size_t i = 0; i < b->ids.size(); ++i) in_baseline.emplace(b->ids[i], i);
  ScoreSample left, right;
  left.transform = a->sample.transform;
  right.transform = b->sample.transform;
  for (size_t i = 0; i < a->ids.size(); ++i) {
    auto it = in_baseline.find(a->ids[i]);
    if (it == in_baseline.end()) continue;
    const size_t j = it->second;
    left.values.push_back(a->sample.values[i]);
    right.values.push_back(b->sample.values[j]);
    if (!a->sample.weights.empty()) left.weights.push_back(a->sample.weights[i]);
    if (!b->sample.weights.empty()) right.weights.push_back(b->sample.weights[j]);
  }
  if (left.values.empty()) return std::nullopt;
  return PairedBootstrap(left, right, scale);
}

}  // namespace llmq
