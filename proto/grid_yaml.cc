#include "proto/grid_yaml.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmq {

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
