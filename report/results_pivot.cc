#include "report/results_pivot.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "report/metric_catalog.h"
#include "report/paired_delta.h"

namespace llmq {
namespace {

struct Sum {
  std::vector<double> values;
  void Add(double value) { values.push_back(value); }
  int count() const { return static_cast<int>(values.size()); }
  double Mean() const {
    double sum = 0;
    for (double v : values) sum += v;
    return sum / values.size();
  }
  // Sample standard deviation, two-pass (bytes and token counts are large).
  double StdDev() const {
    if (values.size() < 2) return 0;
    const double mean = Mean();
    double squares = 0;
    for (double v : values) squares += (v - mean) * (v - mean);
    return std::sqrt(squares / (values.size() - 1));
  }
};

bool IsBaseline(const Coordinates& coordinates) {
  auto it = coordinates.find("method");
  return it != coordinates.end() && it->second == kBaselineMethod;
}

// The metrics of `result` that the table shows, in the order the table shows them.
std::vector<std::string> ShownMetrics(const v1::ResultRow& result, const PivotOptions& options) {
  std::vector<std::string> names;
  for (const auto& metric : result.result().metrics()) names.push_back(metric.name());
  if (options.metrics.empty()) return HeadlineMetrics(result.spec().task().name(), names);
  if (options.metrics.size() == 1 && options.metrics[0] == "all") return names;
  std::vector<std::string> shown;
  for (const std::string& wanted : options.metrics) {
    if (std::count(names.begin(), names.end(), wanted)) shown.push_back(wanted);
  }
  return shown;
}

// Baseline key -> metric -> values of the baseline results.
using Baselines = std::map<std::string, std::map<std::string, Sum>>;
// Baseline key -> the baseline results themselves (for paired differences).
using BaselineRows = std::map<std::string, std::vector<const v1::ResultRow*>>;

void AddBaselines(const std::vector<v1::ResultRow>& results, Baselines* baselines,
                  BaselineRows* rows) {
  for (const auto& result : results) {
    const Coordinates coordinates = JobCoordinates(result.spec());
    if (!IsBaseline(coordinates)) continue;
    (*rows)[BaselineKey(coordinates)].push_back(&result);
    auto& metrics = (*baselines)[BaselineKey(coordinates)];
    for (const auto& metric : result.result().metrics()) {
      if (std::isfinite(metric.value())) metrics[metric.name()].Add(metric.value());
    }
  }
}

}  // namespace

Pivot PivotMetrics(const std::vector<v1::ResultRow>& results, const PivotOptions& options,
                   const std::vector<v1::ResultRow>& references) {
  std::vector<Coordinates> coordinates;
  for (const auto& result : results) coordinates.push_back(JobCoordinates(result.spec()));
  std::vector<std::string> columns = options.columns;
  if (columns.empty()) {
    columns.push_back("task");
    for (const std::string& name : CoordinateOrder(coordinates)) {
      if (name.rfind("task.", 0) == 0 && Varies(coordinates, name, "task")) columns.push_back(name);
    }
  }
  Pivot pivot;
  if (options.rows.empty()) {
    for (const std::string& name : CoordinateOrder(coordinates)) {
      if (name == "repeat" || std::count(columns.begin(), columns.end(), name)) continue;
      const bool task_param = name.rfind("task.", 0) == 0;
      if (name == "model" || name == "method" ||
          Varies(coordinates, name, task_param ? "task" : "")) {
        pivot.row_names.push_back(name);
      }
    }
  } else {
    pivot.row_names = options.rows;
  }
  Baselines baselines;
  BaselineRows baseline_rows;
  if (options.delta) {
    AddBaselines(results, &baselines, &baseline_rows);
    AddBaselines(references, &baselines, &baseline_rows);
  }

  // Rows and columns in order of first appearance (the grid's order).
  std::map<std::string, size_t> row_index, column_index;
  std::vector<std::string> group_keys;                         // in order of appearance
  std::map<std::string, std::vector<size_t>> group_columns;   // group key -> columns
  struct Accumulator {
    Sum values;
    std::vector<const v1::ResultRow*> rows;  // the results, in the order of `values`
    std::vector<const v1::Metric*> metrics;
    std::set<std::string> baseline_keys;
    bool has_baseline_result = false;
  };
  std::map<std::pair<size_t, size_t>, Accumulator> accumulators;
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string row = CoordinateKey(coordinates[i], pivot.row_names);
    auto [row_it, new_row] = row_index.emplace(row, pivot.row_labels.size());
    if (new_row) {
      std::vector<std::string> labels;
      for (const std::string& name : pivot.row_names) {
        auto it = coordinates[i].find(name);
        labels.push_back(it == coordinates[i].end() ? "-" : it->second);
      }
      pivot.row_labels.push_back(std::move(labels));
      pivot.row_is_baseline.push_back(true);
    }
    const bool is_baseline = IsBaseline(coordinates[i]);
    if (!is_baseline) pivot.row_is_baseline[row_it->second] = false;
    const std::string group = CoordinateKey(coordinates[i], columns);
    if (!group_columns.count(group)) group_keys.push_back(group);
    std::vector<size_t>& in_group = group_columns[group];
    std::map<std::string, const v1::Metric*> by_name;
    for (const auto& metric : results[i].result().metrics()) by_name.emplace(metric.name(), &metric);
    for (const std::string& name : ShownMetrics(results[i], options)) {
      const v1::Metric& metric = *by_name.at(name);
      auto [column_it, new_column] =
          column_index.emplace(absl::StrCat(group, "\x1e", name), pivot.columns.size());
      if (new_column) {
        pivot.columns.push_back({LabelParts(coordinates[i], columns), name, metric.unit()});
        in_group.push_back(column_it->second);
      }
      Accumulator& cell = accumulators[{row_it->second, column_it->second}];
      cell.values.Add(metric.value());
      cell.rows.push_back(&results[i]);
      cell.metrics.push_back(&metric);
      if (is_baseline) {
        cell.has_baseline_result = true;
      } else {
        cell.baseline_keys.insert(BaselineKey(coordinates[i]));
      }
    }
  }

  // Columns grouped, groups in order of appearance; within a group, the metrics in the
  // order --metrics named them, else in the order results list them.
  std::vector<size_t> order;
  for (const std::string& group : group_keys) {
    std::vector<size_t> in_group = group_columns[group];
    if (!options.metrics.empty() && options.metrics[0] != "all") {
      auto rank = [&](size_t c) {
        return std::find(options.metrics.begin(), options.metrics.end(), pivot.columns[c].metric) -
               options.metrics.begin();
      };
      std::stable_sort(in_group.begin(), in_group.end(),
                       [&](size_t a, size_t b) { return rank(a) < rank(b); });
    }
    order.insert(order.end(), in_group.begin(), in_group.end());
  }
  std::vector<PivotColumn> ordered_columns;
  for (size_t c : order) ordered_columns.push_back(pivot.columns[c]);

  pivot.cells.assign(pivot.row_labels.size(), std::vector<PivotCell>(order.size()));
  for (size_t r = 0; r < pivot.row_labels.size(); ++r) {
    for (size_t k = 0; k < order.size(); ++k) {
      auto it = accumulators.find({r, order[k]});
      if (it == accumulators.end()) continue;
      const Accumulator& a = it->second;
      PivotCell& cell = pivot.cells[r][k];
      cell.count = a.values.count();
      cell.mean = a.values.Mean();
      cell.stddev = a.values.StdDev();
      if (options.ci) {
        const v1::Metric& first = *a.metrics.front();
        if (cell.count > 1) {
          cell.interval = RepeatsInterval(a.values.values);
        } else if (first.has_ci_low() && first.has_ci_high()) {
          cell.interval = Interval{first.ci_low(), first.ci_high()};
        }
      }
      if (a.has_baseline_result || a.baseline_keys.size() != 1) continue;
      auto base = baselines.find(*a.baseline_keys.begin());
      if (base == baselines.end()) continue;
      const std::string& name = ordered_columns[k].metric;
      auto metric = base->second.find(name);
      if (metric != base->second.end()) cell.baseline = metric->second.Mean();
      // Paired on the same examples: one result against one baseline result.
      const auto& base_rows = baseline_rows[base->first];
      if (options.ci && cell.count == 1 && base_rows.size() == 1 && cell.baseline.has_value()) {
        const DeltaScale scale = DescribeMetric(name, ordered_columns[k].unit).delta == DeltaKind::kRelative
                                     ? DeltaScale::kRelative
                                     : DeltaScale::kDifference;
        cell.paired = PairedMetricDelta(a.rows.front()->result(), base_rows.front()->result(), name, scale);
      }
    }
  }
  pivot.columns = std::move(ordered_columns);
  return pivot;
}

}  // namespace llmq
