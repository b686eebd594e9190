// A strict reader of Prometheus' text exposition format (0.0.4), for tests: what a
// Prometheus server would refuse, and what it would accept but a careful exporter never
// writes, is an error naming the line. Checked: only "# HELP" and "# TYPE" comments, each
// at most once per family and before its samples; a family's samples together; metric
// and label names' syntax; quoted label values with only \\ \" \n escapes; no duplicate
// label names or series; sample names that belong to their family's type (counter and
// gauge: the family's name; histogram: _bucket with an `le` label, _sum, _count); and
// per histogram series: `le` bounds increasing and ending in +Inf, cumulative counts
// non-decreasing, the +Inf bucket equal to _count.
#ifndef LLMQ_TESTS_PROMETHEUS_PARSER_H_
#define LLMQ_TESTS_PROMETHEUS_PARSER_H_

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string type;  // counter | gauge | histogram
  std::string help;
  std::vector<PromSample> samples;
};

struct PromExposition {
  std::map<std::string, PromFamily> families;
  // The value of the sample `name` with exactly `labels`, if there is one.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& [family_name, family] : families) {
      for (const PromSample& sample : family.samples) {
        if (sample.name == name && sample.labels == labels) return sample.value;
      }
    }
    return std::nullopt;
  }
};

namespace prom_internal {

inline bool IsMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

inline bool IsLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c)))) return false;
  }
  return true;
}

inline std::optional<double> ParseValue(absl::string_view text) {
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!(absl::ascii_isdigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return std::nullopt;
    }
  }
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) return std::nullopt;
  return value;
}

}  // namespace prom_internal

inline absl::StatusOr<PromExposition> ParsePrometheusText(absl::string_view text) {
  using namespace prom_internal;
  PromExposition out;
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("the exposition must end with a newline");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  std::string current;           // the family whose samples may follow
  std::set<std::string> closed;  // families whose samples ended
  std::set<std::string> series;  // name + labels seen
  int number = 0;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", what));
  };
  for (absl::string_view line : lines) {
    ++number;
    if (line.empty()) return error("empty line");
    if (line[0] == '#') {
      std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (parts.size() < 3 || parts[0] != "#" || (parts[1] != "HELP" && parts[1] != "TYPE")) {
        return error(absl::StrCat("a comment other than # HELP or # TYPE: ", line));
      }
      const std::string name(parts[2]);
      if (!IsMetricName(name)) return error(absl::StrCat("bad metric name '", name, "'"));
      if (closed.count(name)) return error(absl::StrCat(name, ": family declared again"));
      if (name != current) {
        if (!current.empty()) closed.insert(current);
        if (out.families.count(name)) return error(absl::StrCat(name, ": family split"));
        current = name;
        out.families[name];
      }
      PromFamily& family = out.families[name];
      const std::string rest = parts.size() > 3 ? std::string(parts[3]) : "";
      if (parts[1] == "TYPE") {
        if (!family.type.empty()) return error(absl::StrCat(name, ": second TYPE"));
        if (!family.samples.empty()) return error(absl::StrCat(name, ": TYPE after samples"));
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
            rest != "untyped") {
          return error(absl::StrCat(name, ": unknown type '", rest, "'"));
        }
        family.type = rest;
      } else {
        if (!family.help.empty()) return error(absl::StrCat(name, ": second HELP"));
        if (rest.empty()) return error(absl::StrCat(name, ": empty HELP"));
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n'))) {
            return error(absl::StrCat(name, ": bad escape in HELP"));
          }
          if (rest[i] == '\\') ++i;
        }
        family.help = rest;
      }
      continue;
    }
    // A sample: name, optional {labels}, a space, the value, optional timestamp.
    PromSample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = std::string(line.substr(0, i));
    if (!IsMetricName(sample.name)) return error(absl::StrCat("bad metric name '", sample.name, "'"));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == absl::string_view::npos) return error("label without '='");
        const std::string label(line.substr(i, eq - i));
        if (!IsLabelName(label)) return error(absl::StrCat("bad label name '", label, "'"));
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return error("label value not quoted");
        ++i;
        std::string value;
        while (true) {
          if (i >= line.size()) return error("unterminated label value");
          const char c = line[i];
          if (c == '"') break;
          if (c == '\\') {
            if (i + 1 >= line.size()) return error("dangling escape");
            const char e = line[i + 1];
            if (e == '\\') value += '\\';
            else if (e == '"') value += '"';
            else if (e == 'n') value += '\n';
            else return error("bad escape in label value");
            i += 2;
            continue;
          }
          if (c == '\n') return error("raw newline in label value");
          value += c;
          ++i;
        }
        ++i;  // the closing quote
        if (!sample.labels.emplace(label, value).second) {
          return error(absl::StrCat("duplicate label '", label, "'"));
        }
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        return error("expected ',' or '}' after a label");
      }
    }
    if (i >= line.size() || line[i] != ' ') return error("expected a space before the value");
    std::vector<absl::string_view> fields = absl::StrSplit(line.substr(i + 1), ' ');
    if (fields.empty() || fields.size() > 2) return error("expected a value and at most a timestamp");
    std::optional<double> value = ParseValue(fields[0]);
    if (!value.has_value()) return error(absl::StrCat("bad value '", fields[0], "'"));
    if (fields.size() == 2) {
      int64_t timestamp = 0;
      if (!absl::SimpleAtoi(fields[1], &timestamp)) return error("bad timestamp");
    }
    sample.value = *value;
    // Which family it belongs to: the current one, by its type's naming.
    if (current.empty()) return error(absl::StrCat(sample.name, ": sample before any TYPE"));
    PromFamily& family = out.families[current];
    if (family.type.empty()) return error(absl::StrCat(current, ": samples before its TYPE"));
    bool belongs = false;
    if (family.type == "histogram") {
      belongs = sample.name == current + "_sum" || sample.name == current + "_count" ||
                (sample.name == current + "_bucket" && sample.labels.count("le") == 1);
      if (sample.name != current + "_bucket" && sample.labels.count("le")) belongs = false;
    } else {
      belongs = sample.name == current;
    }
    if (!belongs) {
      return error(absl::StrCat(sample.name, " is not a sample of ", family.type, " ", current));
    }
    std::vector<std::string> key_parts = {sample.name};
    for (const auto& [k, v] : sample.labels) key_parts.push_back(absl::StrCat(k, "=", v));
    if (!series.insert(absl::StrJoin(key_parts, "\x1f")).second) {
      return error(absl::StrCat("duplicate series ", sample.name));
    }
    family.samples.push_back(std::move(sample));
  }
  // Histograms: per series (labels without le), buckets ordered and cumulative.
  for (const auto& [name, family] : out.families) {
    if (family.type.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": no TYPE"));
    if (family.help.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": no HELP"));
    if (family.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::set<std::map<std::string, std::string>> sums;
    for (const PromSample& sample : family.samples) {
      std::map<std::string, std::string> labels = sample.labels;
      if (sample.name == name + "_bucket") {
        const std::string le = labels["le"];
        labels.erase("le");
        std::optional<double> bound = ParseValue(le);
        if (!bound.has_value() || std::isnan(*bound)) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": bad le \"", le, "\""));
        }
        buckets[labels].push_back({*bound, sample.value});
      } else if (sample.name == name + "_count") {
        counts[labels] = sample.value;
      } else {
        sums.insert(labels);
      }
    }
    if (buckets.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": no buckets"));
    for (const auto& [labels, list] : buckets) {
      for (size_t b = 1; b < list.size(); ++b) {
        if (!(list[b].first > list[b - 1].first)) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": le bounds not increasing"));
        }
        if (list[b].second < list[b - 1].second) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": bucket counts decrease"));
        }
      }
      if (!std::isinf(list.back().first)) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": no +Inf bucket"));
      }
      auto count = counts.find(labels);
      if (count == counts.end() || !sums.count(labels)) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": _sum or _count missing"));
      }
      if (count->second != list.back().second) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": +Inf bucket != _count"));
      }
    }
  }
  return out;
}

}  // namespace llmq

#endif  // LLMQ_TESTS_PROMETHEUS_PARSER_H_
