#include "proto/grid_filters.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "proto/grid_schema.h"
#include "proto/grid_values.h"

namespace llmq {
namespace {

constexpr absl::string_view kMethodPrefix = "method.";
constexpr absl::string_view kTaskPrefix = "task.";
constexpr absl::string_view kCalibrationPrefix = "calibration.";

const GridParamSchema* FindInEntries(const std::vector<GridEntrySchema>& entries,
                                     absl::string_view param) {
  for (const GridEntrySchema& entry : entries) {
    if (const GridParamSchema* found = entry.FindParam(param)) return found;
  }
  return nullptr;
}

// The schema of the parameter a condition key names; nullptr when none.
const GridParamSchema* ConditionParam(absl::string_view key) {
  if (absl::ConsumePrefix(&key, kMethodPrefix)) return FindInEntries(GridMethodSchemas(), key);
  if (absl::ConsumePrefix(&key, kTaskPrefix)) return FindInEntries(GridTaskSchemas(), key);
  if (absl::ConsumePrefix(&key, kCalibrationPrefix)) {
    return GridCalibrationSchema().FindParam(key);
  }
  if (const GridParamSchema* found = FindInEntries(GridMethodSchemas(), key)) return found;
  return FindInEntries(GridTaskSchemas(), key);
}

std::vector<std::string> ConditionKeys() {
  std::vector<std::string> keys = {"model", "dtype", "method", "task", "repeat"};
  for (const auto* list : {&GridMethodSchemas(), &GridTaskSchemas()}) {
    for (const GridEntrySchema& entry : *list) {
      for (const GridParamSchema& param : entry.params) {
        if (std::find(keys.begin(), keys.end(), param.name) == keys.end()) {
          keys.push_back(param.name);
        }
      }
    }
  }
  for (const GridParamSchema& param : GridCalibrationSchema().params) {
    keys.push_back(absl::StrCat(kCalibrationPrefix, param.name));
  }
  return keys;
}

// The canonical form of one condition value, or an error message.
absl::StatusOr<std::string> ConditionValue(const std::string& key, const std::string& text,
                                           const Grid& grid) {
  if (key == "model") {
    std::vector<std::string> aliases;
    for (const GridModel& model : grid.models) {
      if (model.alias == text) return text;
      aliases.push_back(model.alias);
    }
    return absl::InvalidArgumentError(absl::StrCat("model: no model named \"", text, "\"",
                                                   DidYouMean(text, aliases)));
  }
  if (key == "dtype") return CanonicalDtype(text);
  if (key == "method" || key == "task") {
    const std::vector<std::string> names = key == "method" ? GridMethodNames() : GridTaskNames();
    if (std::find(names.begin(), names.end(), text) != names.end()) return text;
    return absl::InvalidArgumentError(absl::StrCat(key, ": unknown ", key, " \"", text, "\"",
                                                   DidYouMean(text, names)));
  }
  if (key == "repeat") {
    absl::StatusOr<int64_t> repeat = ParseGridInt(text);
    if (!repeat.ok() || *repeat < 0 || *repeat >= grid.repeats) {
      return absl::InvalidArgumentError(absl::StrCat(
          "repeat: expected a repeat index in 0..", grid.repeats - 1, ", got \"", text, "\""));
    }
    return absl::StrCat(*repeat);
  }
  return CanonicalParamValue(*ConditionParam(key), text, grid.file);
}

bool ParseFilter(const YAML::Node& node, absl::string_view section, const Grid& grid,
                 GridDiagnostics* diagnostics, GridFilter* filter) {
  filter->where = LocationOf(node);
  if (!node.IsMap() || node.size() == 0) {
    diagnostics->Error(filter->where,
                       absl::StrCat(section, ": expected a non-empty map like "
                                             "{method: gptq, bits: 3}, got ",
                                    DescribeNode(node)));
    return false;
  }
  bool ok = true;
  for (const YamlField& field : ReadFields(node, diagnostics)) {
    const bool fixed = field.key == "model" || field.key == "dtype" || field.key == "method" ||
                       field.key == "task" || field.key == "repeat";
    if (!fixed && ConditionParam(field.key) == nullptr) {
      ReportUnknownKey(field, section, ConditionKeys(),
                       "filters name model, dtype, method, task, repeat or a parameter",
                       diagnostics);
      ok = false;
      continue;
    }
    std::vector<YamlValue> values;
    if (!ReadValues(field, absl::StrCat(section, ": ", field.key), diagnostics, &values)) {
      ok = false;
      continue;
    }
    std::vector<std::string> canonical_values;
    for (const YamlValue& value : values) {
      absl::StatusOr<std::string> canonical = ConditionValue(field.key, value.text, grid);
      if (!canonical.ok()) {
        diagnostics->Error(value.where,
                           absl::StrCat(section, ": ", canonical.status().message()));
        ok = false;
        continue;
      }
      canonical_values.push_back(*std::move(canonical));
    }
    filter->conditions.emplace_back(field.key, std::move(canonical_values));
  }
  return ok;
}

// The job's value for a condition key; false when the job has no such value.
bool JobValue(const v1::JobSpec& job, absl::string_view key, std::string* value) {
  if (key == "model") *value = job.model().alias();
  else if (key == "dtype") *value = job.model().dtype();
  else if (key == "method") *value = job.method().name();
  else if (key == "task") *value = job.task().name();
  else if (key == "repeat") *value = absl::StrCat(job.repeat());
  else if (absl::ConsumePrefix(&key, kCalibrationPrefix)) {
    if (!job.has_calibration()) return false;
    const v1::CalibrationSpec& c = job.calibration();
    if (key == "dataset") *value = c.dataset();
    else if (key == "samples") *value = absl::StrCat(c.samples());
    else if (key == "seq_len") *value = absl::StrCat(c.seq_len());
    else if (key == "seed") *value = absl::StrCat(c.seed());
    else if (key == "mode") *value = c.mode();
    else return false;
  } else {
    const bool method_only = absl::ConsumePrefix(&key, kMethodPrefix);
    const bool task_only = !method_only && absl::ConsumePrefix(&key, kTaskPrefix);
    const std::string param(key);
    if (!task_only && job.method().params().count(param) != 0) {
      *value = job.method().params().at(param);
    } else if (!method_only && job.task().params().count(param) != 0) {
      *value = job.task().params().at(param);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseFilters(const YamlField& field, const Grid& grid, GridDiagnostics* diagnostics,
                  std::vector<GridFilter>* filters) {
  if (field.value.IsNull()) return true;
  if (!field.value.IsSequence()) {
    diagnostics->Error(field.value_where,
                       absl::StrCat(field.key, ": expected a list of maps like "
                                               "- {method: gptq, bits: 3}, got ",
                                    DescribeNode(field.value)));
    return false;
  }
  bool ok = true;
  for (const YAML::Node& node : field.value) {
    GridFilter filter;
    if (ParseFilter(node, field.key, grid, diagnostics, &filter)) {
      filters->push_back(std::move(filter));
    } else {
      ok = false;
    }
  }
  return ok;
}

bool FilterMatches(const GridFilter& filter, const v1::JobSpec& job) {
  for (const auto& [key, values] : filter.conditions) {
    std::string value;
    if (!JobValue(job, key, &value)) return false;
    if (std::find(values.begin(), values.end(), value) == values.end()) return false;
  }
  return true;
}

}  // namespace llmq
