// The numbers behind a results table: results pivoted into rows (one per combination of the
// row coordinates) and columns (a metric within a column group), each cell the mean of the
// results that fall in it (repeats), with their standard deviation, and the mean of the
// matching unquantized baseline (method `none`, same model and other coordinates) for
// --delta. With --ci, each cell's 95 % interval: a single result's bootstrap interval over
// its examples (stored with the metric), or over repeats mean ± t·s/√n
// (common/bootstrap.h); with --ci --delta also the paired bootstrap of the change against
// the baseline on the same examples (paired_delta.h), when both have per-example scores.
// Formatting (units, rounding, bold, LaTeX) is paper_table's business.
#ifndef LLMQ_REPORT_RESULTS_PIVOT_H_
#define LLMQ_REPORT_RESULTS_PIVOT_H_

#include <optional>
#include <string>
#include <vector>

#include "common/bootstrap.h"
#include "report/result_coordinates.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct PivotOptions {
  // Coordinates whose values make a row. Empty: model and method, then every other
  // coordinate (but repeat) whose value varies across the results and is not a column.
  std::vector<std::string> rows;
  // Coordinates whose values make a column group; every metric gets a column per group.
  // Empty: task, plus every task.<param> that varies within a task.
  std::vector<std::string> columns;
  // Empty: each task's headline metrics (metric_catalog.h); {"all"}: every metric, in
  // order of first appearance; otherwise these, where the results have them.
  std::vector<std::string> metrics;
  int precision = 4;       // significant digits (see paper_table.h for the rounding)
  bool delta = false;      // add each cell's change against the unquantized baseline
  bool mark_best = true;   // Markdown and LaTeX: the best value of each column in bold
  bool ci = false;         // 95 % intervals (and, with delta, paired differences)
};

struct PivotCell {
  int count = 0;  // results averaged; 0: no value
  double mean = 0;
  double stddev = 0;  // sample standard deviation when count > 1
  // The baseline's mean, when the cell's results share one baseline that has this metric.
  std::optional<double> baseline;
  std::optional<Interval> interval;   // with ci: the value's interval, when known
  std::optional<PairedDelta> paired;  // with ci and delta: the paired change, when known
};

struct PivotColumn {
  std::vector<std::string> group;  // the column group's label parts ({"ppl", "limit=4"})
  std::string metric;              // metric name
  std::string unit;                // the unit the results store it in
};

struct Pivot {
  std::vector<std::string> row_names;                // coordinates that make rows
  std::vector<std::vector<std::string>> row_labels;  // per row, their values ("-": absent)
  std::vector<bool> row_is_baseline;                 // every result in the row is `none`
  std::vector<PivotColumn> columns;
  std::vector<std::vector<PivotCell>> cells;         // [row][column]
};

// `references` are extra results consulted only as baselines (a --method filter may have
// left the baselines out of `results`); they make no rows.
Pivot PivotMetrics(const std::vector<v1::ResultRow>& results, const PivotOptions& options,
                   const std::vector<v1::ResultRow>& references = {});

}  // namespace llmq

#endif  // LLMQ_REPORT_RESULTS_PIVOT_H_
