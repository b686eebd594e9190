#include "coordinator/results_table.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace llmq {
namespace {

constexpr char kMissing[] = "-";

// Counts (tokens, bytes, parameters) in full; measurements to `precision` digits.
std::string FormatNumber(double value, int precision) {
  if (std::isnan(value)) return "nan";
  if (std::abs(value) < 1e15 && value == std::floor(value)) {
    return absl::StrFormat("%.0f", value);
  }
  return absl::StrFormat("%.*g", precision, value);
}

// Names of the coordinates `results` have, in a stable, readable order.
std::vector<std::string> CoordinateOrder(
    const std::vector<std::map<std::string, std::string>>& coordinates) {
  static const std::vector<std::string> kFirst = {"sweep", "model", "dtype", "method"};
  std::set<std::string> all;
  for (const auto& c : coordinates) {
    for (const auto& [name, value] : c) all.insert(name);
  }
  std::vector<std::string> order;
  for (const std::string& name : kFirst) {
    if (all.erase(name)) order.push_back(name);
  }
  std::vector<std::string> method_params, calibration, task, task_params;
  for (const std::string& name : all) {
    if (name == "task" || name == "repeat") continue;
    if (name.rfind("calibration.", 0) == 0) {
      calibration.push_back(name);
    } else if (name.rfind("task.", 0) == 0) {
      task_params.push_back(name);
    } else {
      method_params.push_back(name);
    }
  }
  for (auto* group : {&method_params, &calibration}) order.insert(order.end(), group->begin(), group->end());
  if (all.count("task")) order.push_back("task");
  order.insert(order.end(), task_params.begin(), task_params.end());
  if (all.count("repeat")) order.push_back("repeat");
  return order;
}

// Whether `name` takes two values among the results that have it (a parameter only some
// methods have does not vary by being absent from the others).
bool Varies(const std::vector<std::map<std::string, std::string>>& coordinates,
            const std::string& name) {
  std::set<std::string> values;
  for (const auto& c : coordinates) {
    auto it = c.find(name);
    if (it != c.end()) values.insert(it->second);
  }
  return values.size() > 1;
}

std::string Key(const std::map<std::string, std::string>& coordinates,
                const std::vector<std::string>& names) {
  std::vector<std::string> values;
  for (const std::string& name : names) {
    auto it = coordinates.find(name);
    values.push_back(it == coordinates.end() ? kMissing : it->second);
  }
  return absl::StrJoin(values, "\x1f");
}

struct Cell {
  double sum = 0, sum_squares = 0;
  int count = 0;
};

}  // namespace

std::map<std::string, std::string> JobCoordinates(const v1::JobSpec& spec) {
  std::map<std::string, std::string> c;
  c["sweep"] = spec.sweep_name();
  c["model"] = spec.model().alias();
  c["dtype"] = spec.model().dtype();
  c["method"] = spec.method().name();
  for (const auto& [name, value] : spec.method().params()) c[name] = value;
  if (!spec.calibration().dataset().empty()) {
    c["calibration.dataset"] = spec.calibration().dataset();
    c["calibration.samples"] = absl::StrCat(spec.calibration().samples());
    c["calibration.seq_len"] = absl::StrCat(spec.calibration().seq_len());
    c["calibration.seed"] = absl::StrCat(spec.calibration().seed());
  }
  c["task"] = spec.task().name();
  for (const auto& [name, value] : spec.task().params()) c[absl::StrCat("task.", name)] = value;
  c["repeat"] = absl::StrCat(spec.repeat());
  return c;
}

Table PivotResults(const std::vector<v1::ResultRow>& results, const PivotOptions& options) {
  std::vector<std::map<std::string, std::string>> coordinates;
  for (const auto& result : results) coordinates.push_back(JobCoordinates(result.spec()));
  std::vector<std::string> columns = options.columns;
  if (columns.empty()) {
    columns.push_back("task");
    for (const std::string& name : CoordinateOrder(coordinates)) {
      if (name.rfind("task.", 0) == 0 && Varies(coordinates, name)) columns.push_back(name);
    }
  }
  std::vector<std::string> rows = options.rows;
  if (rows.empty()) {
    for (const std::string& name : CoordinateOrder(coordinates)) {
      if (name == "repeat" || std::count(columns.begin(), columns.end(), name)) continue;
      if (name == "model" || name == "method" || Varies(coordinates, name)) rows.push_back(name);
    }
  }
  std::vector<std::string> metrics = options.metrics;
  if (metrics.empty()) {
    for (const auto& result : results) {
      for (const auto& metric : result.result().metrics()) {
        if (std::find(metrics.begin(), metrics.end(), metric.name()) == metrics.end()) {
          metrics.push_back(metric.name());
        }
      }
    }
  }
  // Row and column-group keys in order of first appearance (the grid's order).
  std::vector<std::string> row_keys, group_keys;
  std::map<std::string, std::map<std::string, std::string>> row_values, group_values;
  std::map<std::pair<std::string, std::string>, Cell> cells;  // (row, group + metric)
  std::set<std::pair<std::string, std::string>> used_columns;  // (group, metric) with data
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string row = Key(coordinates[i], rows);
    const std::string group = Key(coordinates[i], columns);
    if (!row_values.count(row)) row_keys.push_back(row);
    if (!group_values.count(group)) group_keys.push_back(group);
    row_values[row] = coordinates[i];
    group_values[group] = coordinates[i];
    for (const auto& metric : results[i].result().metrics()) {
      if (std::find(metrics.begin(), metrics.end(), metric.name()) == metrics.end()) continue;
      Cell& cell = cells[{row, absl::StrCat(group, "\x1e", metric.name())}];
      cell.sum += metric.value();
      cell.sum_squares += metric.value() * metric.value();
      ++cell.count;
      used_columns.insert({group, metric.name()});
    }
  }
  Table table;
  table.header = rows;
  std::vector<std::pair<std::string, std::string>> value_columns;
  for (const std::string& group : group_keys) {
    for (const std::string& metric : metrics) {
      if (!used_columns.count({group, metric})) continue;
      value_columns.push_back({group, metric});
      std::vector<std::string> label;
      for (const std::string& name : columns) {
        auto it = group_values[group].find(name);
        if (it == group_values[group].end() || it->second.empty()) continue;
        // Parameter values are labelled ("limit=4"); names (task, method) speak for themselves.
        const size_t dot = name.find('.');
        label.push_back(dot == std::string::npos ? it->second
                                                 : absl::StrCat(name.substr(dot + 1), "=", it->second));
      }
      // "boolq accuracy", but "ppl dataset=wikitext2" rather than "... ppl".
      if (std::find(label.begin(), label.end(), metric) == label.end()) label.push_back(metric);
      table.header.push_back(absl::StrJoin(label, " "));
    }
  }
  for (const std::string& row : row_keys) {
    std::vector<std::string> line;
    for (const std::string& name : rows) {
      auto it = row_values[row].find(name);
      line.push_back(it == row_values[row].end() ? kMissing : it->second);
    }
    for (const auto& [group, metric] : value_columns) {
      auto it = cells.find({row, absl::StrCat(group, "\x1e", metric)});
      if (it == cells.end()) {
        line.push_back(kMissing);
        continue;
      }
      const Cell& cell = it->second;
      const double mean = cell.sum / cell.count;
      std::string text = FormatNumber(mean, options.precision);
      if (cell.count > 1) {
        const double variance =
            std::max(0.0, (cell.sum_squares - cell.count * mean * mean) / (cell.count - 1));
        absl::StrAppend(&text, " ±", FormatNumber(std::sqrt(variance), 2));
      }
      line.push_back(text);
    }
    table.rows.push_back(std::move(line));
  }
  return table;
}

Table LongResults(const std::vector<v1::ResultRow>& results) {
  std::vector<std::map<std::string, std::string>> coordinates;
  for (const auto& result : results) coordinates.push_back(JobCoordinates(result.spec()));
  const std::vector<std::string> names = CoordinateOrder(coordinates);
  Table table;
  table.header.push_back("job_id");
  table.header.insert(table.header.end(), names.begin(), names.end());
  for (const char* extra : {"metric", "value", "unit", "worker_id", "finished_unix"}) {
    table.header.push_back(extra);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    for (const auto& metric : results[i].result().metrics()) {
      std::vector<std::string> line = {absl::StrCat(results[i].job_id())};
      for (const std::string& name : names) {
        auto it = coordinates[i].find(name);
        line.push_back(it == coordinates[i].end() ? "" : it->second);
      }
      line.push_back(metric.name());
      line.push_back(FormatNumber(metric.value(), 17));
      line.push_back(metric.unit());
      line.push_back(results[i].worker_id());
      line.push_back(absl::StrCat(results[i].finished_unix()));
      table.rows.push_back(std::move(line));
    }
  }
  return table;
}

std::string ResultsToJson(const std::vector<v1::ResultRow>& results) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& result : results) {
    nlohmann::ordered_json row;
    row["job_id"] = result.job_id();
    row["job_key"] = result.spec().job_key();
    row["coordinates"] = JobCoordinates(result.spec());
    nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
    for (const auto& metric : result.result().metrics()) {
      metrics[metric.name()] = {{"value", metric.value()}, {"unit", metric.unit()}};
    }
    row["metrics"] = std::move(metrics);
    row["provenance"] = std::map<std::string, std::string>(result.result().provenance().begin(),
                                                           result.result().provenance().end());
    nlohmann::ordered_json timings = nlohmann::ordered_json::object();
    for (const auto& timing : result.result().timings()) timings[timing.stage()] = timing.seconds();
    row["timings_seconds"] = std::move(timings);
    row["worker_id"] = result.worker_id();
    row["finished_unix"] = result.finished_unix();
    out.push_back(std::move(row));
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace llmq
