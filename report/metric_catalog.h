// What the tables and plots know about metrics, in one place: a readable label, the unit
// values are stored in, which direction is better (for the bold best value), how a change
// against the unquantized baseline is expressed (for --delta), and which metrics each task
// shows by default (its headline metrics). Names the catalog does not know are shown as
// they are, with their stored unit, and are never "better" in either direction.
#ifndef LLMQ_REPORT_METRIC_CATALOG_H_
#define LLMQ_REPORT_METRIC_CATALOG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace llmq {

enum class Better { kNeither, kLower, kHigher };

// How `--delta` shows a change against the baseline. Relative (percent of the baseline) for
// quantities on a ratio scale where only proportions compare across models: perplexity,
// latency, bytes, throughput. Absolute (difference, in the column's unit) for bounded scores
// (accuracy, exact match, nDCG, MRR) and for bits per weight.
enum class DeltaKind { kAbsolute, kRelative };

struct MetricInfo {
  std::string label;  // "decode p50", "nDCG@10", "weight"
  std::string unit;   // stored unit: "ms", "bytes", "tokens/s", "s"; "" when none
  Better better = Better::kNeither;
  DeltaKind delta = DeltaKind::kAbsolute;
};

// `stored_unit` is the unit the result carries; it is used for names the catalog lacks.
MetricInfo DescribeMetric(absl::string_view name, absl::string_view stored_unit = "");

// The metrics `task` shows by default, picked from `available` (a result's metric names) and
// in the catalog's order; numbered families (prefill_ms_<length>, throughput_b<batch>) keep
// their order in `available`. A task the catalog does not know shows everything.
std::vector<std::string> HeadlineMetrics(absl::string_view task,
                                         const std::vector<std::string>& available);

// The headline metric of a task for plots: its first one ("ppl", "accuracy",
// "exact_match_strict", "ndcg_at_<k>"); "" for tasks without one (efficiency, unknown).
std::string PlotMetric(absl::string_view task, const std::vector<std::string>& available);

// A unit to print values in: value / divisor, labelled `label` ("MB"; "" for none).
struct DisplayUnit {
  std::string label;
  double divisor = 1;
};
// Bytes get the largest decimal unit (kB = 1e3, MB = 1e6, GB = 1e9 bytes) in which
// `largest_magnitude` is at least 1; "tokens/s" reads "tok/s"; other units stay as they are.
DisplayUnit ChooseDisplayUnit(absl::string_view unit, double largest_magnitude);

// "weight (MB)", "decode p50 (ms)", "ppl".
std::string ColumnLabel(const MetricInfo& info, const DisplayUnit& unit);

}  // namespace llmq

#endif  // LLMQ_REPORT_METRIC_CATALOG_H_
