// Results as an SVG line chart: a metric against bits per weight (or a method parameter such
// as group_size), one line per method, one panel per model and task (with the task
// parameters that vary). The unquantized baseline (method `none`) is a dashed horizontal
// line. Points repeat-averaged; every point carries its data (data-x, data-y) and a tooltip.
#ifndef LLMQ_REPORT_RESULTS_PLOT_H_
#define LLMQ_REPORT_RESULTS_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct PlotOptions {
  // A metric (bits_per_weight, weight_bytes, ...: a linear axis) or a method coordinate
  // (group_size, bits: evenly spaced categories, in numeric order, -1 = whole row last).
  std::string x = "bits_per_weight";
  // The metric on the y axis; empty: each task's first headline metric (ppl, accuracy,
  // exact_match_strict, ndcg_at_<k>), which leaves efficiency tasks out.
  std::string y;
  bool log_y = false;  // logarithmic y axis (for perplexity); ignored if a value is <= 0
  // y as the relative change against the panel's unquantized baseline, in percent (a
  // sensitivity scan's Δ perplexity per block); panels without a baseline are left out.
  bool delta = false;
};

// NotFound when no result has both coordinates to plot.
absl::StatusOr<std::string> PlotResults(const std::vector<v1::ResultRow>& results,
                                        const PlotOptions& options);

}  // namespace llmq

#endif  // LLMQ_REPORT_RESULTS_PLOT_H_
