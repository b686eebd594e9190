// Results as paper-style tables. Every result has grid coordinates — sweep, model, dtype,
// method, each method parameter (bits, group_size, ...), calibration.<field>, task,
// task.<param>, repeat — and metrics. A pivot picks which coordinates make rows and
// which make column groups; each cell is a metric's mean over the results that fall in it
// (repeats), with "±std" when there are several.
#ifndef LLMQ_COORDINATOR_RESULTS_TABLE_H_
#define LLMQ_COORDINATOR_RESULTS_TABLE_H_

#include <map>
#include <string>
#include <vector>

#include "coordinator/table_format.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct PivotOptions {
  // Coordinates whose values make a row. Empty: model and method, then every other
  // coordinate (but repeat) whose value varies across the results and is not a column.
  std::vector<std::string> rows;
  // Coordinates whose values make a column group; every metric gets a column per group.
  // Empty: task, plus every task.<param> that varies.
  std::vector<std::string> columns;
  std::vector<std::string> metrics;  // empty: every metric, in order of first appearance
  int precision = 4;                 // significant digits
};

// The coordinates of a job, by name (see above). Parameters a method does not have are
// absent.
std::map<std::string, std::string> JobCoordinates(const v1::JobSpec& spec);

Table PivotResults(const std::vector<v1::ResultRow>& results, const PivotOptions& options);

// Long form: one row per (job, metric) with every coordinate that any result has, the
// metric, value, unit, worker and finish time. What `export --format=csv` writes.
Table LongResults(const std::vector<v1::ResultRow>& results);

// Everything about each result as a JSON array: id, coordinates, metrics with units,
// provenance, stage timings, worker. What `export --format=json` writes.
std::string ResultsToJson(const std::vector<v1::ResultRow>& results);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_RESULTS_TABLE_H_
