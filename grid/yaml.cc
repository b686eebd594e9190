// Diagnostics with file:line:column, and reading yaml-cpp nodes with their places.
#include "grid/yaml.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmq {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
int EditDistance(absl::string_view a, absl::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string FormatGridError(absl::string_view file, GridLocation where,
                            absl::string_view message) {
  if (where.line <= 0) return absl::StrCat(file, ": ", message);
  return absl::StrCat(file, ":", where.line, ":", where.column, ": ", message);
}

void GridDiagnostics::Error(GridLocation where, absl::string_view message) {
  ++count_;
  if (static_cast<int>(errors_.size()) < kMaxErrors) {
    errors_.push_back(FormatGridError(file_, where, message));
  }
}

absl::Status GridDiagnostics::ToStatus() const {
  if (ok()) return absl::OkStatus();
  std::string message = absl::StrJoin(errors_, "\n");
  if (count_ > static_cast<int>(errors_.size())) {
    absl::StrAppend(&message, "\n", file_, ": ... and ", count_ - errors_.size(),
                    " more errors");
  }
  return absl::InvalidArgumentError(message);
}

std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates) {
  const int allowed =
      std::min(3, std::max(1, static_cast<int>(word.size()) / 3));
  std::string best;
  int best_distance = allowed + 1;
  for (const std::string& candidate : candidates) {
    const int distance = EditDistance(word, candidate);
    // A word every letter of which differs ("y" vs "x") is no typo.
    if (distance < best_distance && distance < static_cast<int>(word.size())) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates) {
  const std::string match = ClosestMatch(word, candidates);
  if (match.empty()) return "";
  return absl::StrCat(" (did you mean \"", match, "\"?)");
}

}  // namespace llmq

namespace llmq {
namespace {

constexpr char kMergeKey[] = "<<";

// "<<: *anchor" or "<<: [*a, *b]": the fields of the merged maps that this map does not
// set itself (the first merged map wins among them).
void MergeFields(const YAML::Node& value, GridLocation where,
                 const std::set<std::string>& explicit_keys, GridDiagnostics* diagnostics,
                 std::map<std::string, GridLocation>* seen, std::vector<YamlField>* fields) {
  std::vector<YAML::Node> maps;
  if (value.IsMap()) {
    maps.push_back(value);
  } else if (value.IsSequence()) {
    for (const YAML::Node& item : value) maps.push_back(item);
  }
  for (const YAML::Node& map : maps) {
    if (!map.IsMap()) {
      diagnostics->Error(where, absl::StrCat("<<: expected a map or a list of maps to merge, "
                                             "got ", DescribeNode(map)));
      return;
    }
    for (YamlField& field : ReadFields(map, diagnostics)) {
      if (explicit_keys.count(field.key) != 0) continue;
      if (!seen->emplace(field.key, field.key_where).second) continue;
      fields->push_back(std::move(field));
    }
  }
  if (maps.empty()) {
    diagnostics->Error(where, absl::StrCat("<<: expected a map or a list of maps to merge, got ",
                                           DescribeNode(value)));
  }
}

}  // namespace

GridLocation LocationOf(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string DescribeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return absl::StrCat("\"", node.Scalar(), "\"");
}

std::vector<YamlField> ReadFields(const YAML::Node& map, GridDiagnostics* diagnostics) {
  // Keys written in this map win over keys merged in with "<<: *anchor" (YAML merge keys,
  // which yaml-cpp leaves to its users).
  std::set<std::string> explicit_keys;
  for (YAML::const_iterator it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() != kMergeKey) {
      explicit_keys.insert(it->first.Scalar());
    }
  }
  std::vector<YamlField> fields;
  std::map<std::string, GridLocation> seen;
  for (YAML::const_iterator it = map.begin(); it != map.end(); ++it) {
    const GridLocation key_where = LocationOf(it->first);
    if (!it->first.IsScalar()) {
      diagnostics->Error(key_where, absl::StrCat("expected a key name, got ",
                                                 DescribeNode(it->first)));
      continue;
    }
    const std::string key = it->first.Scalar();
    if (key == kMergeKey) {
      MergeFields(it->second, key_where, explicit_keys, diagnostics, &seen, &fields);
      continue;
    }
    const auto [previous, inserted] = seen.emplace(key, key_where);
    if (!inserted) {
      diagnostics->Error(key_where, absl::StrCat("\"", key, "\" is given twice (first at line ",
                                                 previous->second.line, ")"));
      continue;
    }
    GridLocation value_where = LocationOf(it->second);
    if (value_where.line == 0 || it->second.IsNull()) value_where = key_where;
    fields.push_back({key, key_where, it->second, value_where});
  }
  return fields;
}

bool ReadScalar(const YAML::Node& node, GridLocation where, absl::string_view what,
                absl::string_view expected, GridDiagnostics* diagnostics, std::string* text) {
  if (node.IsDefined() && node.IsScalar()) {
    *text = node.Scalar();
    return true;
  }
  diagnostics->Error(where, absl::StrCat(what, ": expected ", expected, ", got ",
                                         DescribeNode(node)));
  return false;
}

bool ReadValues(const YamlField& field, absl::string_view what, GridDiagnostics* diagnostics,
                std::vector<YamlValue>* values) {
  const YAML::Node& node = field.value;
  if (node.IsScalar()) {
    values->push_back({node.Scalar(), field.value_where});
    return true;
  }
  if (!node.IsSequence()) {
    diagnostics->Error(field.value_where,
                       absl::StrCat(what, ": expected a value or a list of values, got ",
                                    DescribeNode(node)));
    return false;
  }
  if (node.size() == 0) {
    diagnostics->Error(field.value_where,
                       absl::StrCat(what, ": expected at least one value, got an empty list"));
    return false;
  }
  bool ok = true;
  for (const YAML::Node& item : node) {
    GridLocation where = LocationOf(item);
    if (where.line == 0) where = field.value_where;
    if (!item.IsScalar()) {
      diagnostics->Error(where, absl::StrCat(what, ": expected a value, got ", DescribeNode(item),
                                             " (a list of values is one axis; lists inside it "
                                             "are not)"));
      ok = false;
      continue;
    }
    values->push_back({item.Scalar(), where});
  }
  return ok;
}

void ReportUnknownKey(const YamlField& field, absl::string_view context,
                      const std::vector<std::string>& known, absl::string_view hint,
                      GridDiagnostics* diagnostics) {
  std::string message = absl::StrCat(context, ": unknown key \"", field.key, "\"");
  const std::string suggestion = DidYouMean(field.key, known);
  if (!suggestion.empty()) {
    absl::StrAppend(&message, suggestion);
  } else if (!hint.empty()) {
    absl::StrAppend(&message, " (", hint, ")");
  } else if (!known.empty()) {
    absl::StrAppend(&message, "; expected one of: ", absl::StrJoin(known, ", "));
  }
  diagnostics->Error(field.key_where, message);
}

}  // namespace llmq
