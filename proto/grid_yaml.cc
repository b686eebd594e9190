#include "proto/grid_yaml.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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
