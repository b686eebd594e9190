// Results as paper-style tables. Every result has grid coordinates (result_coordinates.h)
// and metrics. A pivot picks which coordinates make rows and which make column groups;
// each cell is a metric's mean over the results that fall in it (repeats), with "±std"
// when there are several (results_pivot.h), formatted per paper_table.h and rendered as
// Markdown, LaTeX, CSV or JSON.
#ifndef LLMQ_REPORT_RESULTS_TABLE_H_
#define LLMQ_REPORT_RESULTS_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "report/result_coordinates.h"
#include "report/results_pivot.h"
#include "report/table_format.h"
#include "proto/llmq.pb.h"

namespace llmq {

// The pivot as the Markdown table shows it (bold best, ±std, Δ in parentheses).
Table PivotResults(const std::vector<v1::ResultRow>& results, const PivotOptions& options);

// The pivot rendered as `format`: "markdown" (or "md"), "latex" (or "tex"), "csv", "json".
// `references` are consulted only as --delta baselines. InvalidArgument for other formats.
absl::StatusOr<std::string> RenderResults(const std::vector<v1::ResultRow>& results,
                                          const PivotOptions& options, absl::string_view format,
                                          const std::vector<v1::ResultRow>& references = {});

// Long form: one row per (job, metric) with every coordinate that any result has, the
// metric, value, unit, worker and finish time. What `export --format=csv` writes.
Table LongResults(const std::vector<v1::ResultRow>& results);

// Everything about each result as a JSON array: id, coordinates, metrics with units,
// provenance, stage timings, worker. What `export --format=json` writes.
std::string ResultsToJson(const std::vector<v1::ResultRow>& results);

}  // namespace llmq

#endif  // LLMQ_REPORT_RESULTS_TABLE_H_
