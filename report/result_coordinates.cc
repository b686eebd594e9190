#include "report/result_coordinates.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmq {

Coordinates JobCoordinates(const v1::JobSpec& spec) {
  Coordinates c;
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

std::vector<std::string> CoordinateOrder(const std::vector<Coordinates>& coordinates) {
  static const std::vector<std::string> kFirst = {"sweep", "model", "dtype", "method"};
  std::set<std::string> all;
  for (const auto& c : coordinates) {
    for (const auto& [name, value] : c) all.insert(name);
  }
  std::vector<std::string> order;
  for (const std::string& name : kFirst) {
    if (all.erase(name)) order.push_back(name);
  }
  std::vector<std::string> method_params, calibration, task_params;
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
  order.insert(order.end(), method_params.begin(), method_params.end());
  order.insert(order.end(), calibration.begin(), calibration.end());
  if (all.count("task")) order.push_back("task");
  order.insert(order.end(), task_params.begin(), task_params.end());
  if (all.count("repeat")) order.push_back("repeat");
  return order;
}

bool Varies(const std::vector<Coordinates>& coordinates, const std::string& name,
            const std::string& within) {
  std::map<std::string, std::set<std::string>> values;  // value of `within` -> of `name`
  for (const auto& c : coordinates) {
    auto it = c.find(name);
    if (it == c.end()) continue;
    auto group = within.empty() ? c.end() : c.find(within);
    std::set<std::string>& seen = values[group == c.end() ? "" : group->second];
    seen.insert(it->second);
    if (seen.size() > 1) return true;
  }
  return false;
}

bool IsMethodCoordinate(const std::string& name) {
  if (name == "method") return true;
  if (name == "sweep" || name == "model" || name == "dtype" || name == "task" ||
      name == "repeat" || name.rfind("task.", 0) == 0) {
    return false;
  }
  return true;  // a method parameter or calibration.<field>
}

std::string CoordinateKey(const Coordinates& coordinates, const std::vector<std::string>& names) {
  std::vector<std::string> values;
  for (const std::string& name : names) {
    auto it = coordinates.find(name);
    values.push_back(it == coordinates.end() ? "-" : it->second);
  }
  return absl::StrJoin(values, "\x1f");
}

std::string BaselineKey(const Coordinates& coordinates) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : coordinates) {
    if (IsMethodCoordinate(name) || name == "sweep" || name == "repeat") continue;
    parts.push_back(absl::StrCat(name, "=", value));
  }
  return absl::StrJoin(parts, "\x1f");
}

std::vector<std::string> LabelParts(const Coordinates& coordinates,
                                    const std::vector<std::string>& names) {
  std::vector<std::string> parts;
  for (const std::string& name : names) {
    auto it = coordinates.find(name);
    if (it == coordinates.end() || it->second.empty()) continue;
    if (name == "task" || name == "method" || name == "model" || name == "sweep" ||
        name == "dtype") {
      parts.push_back(it->second);
      continue;
    }
    const size_t dot = name.find('.');
    parts.push_back(absl::StrCat(dot == std::string::npos ? name : name.substr(dot + 1), "=",
                                 it->second));
  }
  return parts;
}

}  // namespace llmq
