#include "proto/grid_parse_entry.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/grid_schema.h"

namespace llmq {
namespace {

// Reads the parameters of an entry into axes; `fields` excludes `name`.
bool ParseParams(const std::vector<YamlField>& fields, const GridEntrySchema& schema,
                 absl::string_view context, absl::string_view grid_file,
                 GridDiagnostics* diagnostics, GridEntry* entry) {
  bool ok = true;
  for (const YamlField& field : fields) {
    const GridParamSchema* param = schema.FindParam(field.key);
    if (param == nullptr) {
      if (schema.params.empty()) {
        diagnostics->Error(field.key_where,
                           absl::StrCat(context, ": ", schema.name, " takes no parameters"));
      } else {
        ReportUnknownKey(field, context, schema.ParamNames(), WhereParamBelongs(field.key),
                         diagnostics);
      }
      ok = false;
      continue;
    }
    std::vector<YamlValue> values;
    if (!ReadValues(field, absl::StrCat(context, ": ", field.key), diagnostics, &values)) {
      ok = false;
      continue;
    }
    GridAxis axis{param->name, {}, field.key_where};
    std::set<std::string> seen;
    for (const YamlValue& value : values) {
      absl::StatusOr<std::string> canonical =
          CanonicalParamValue(*param, value.text, grid_file);
      if (!canonical.ok()) {
        diagnostics->Error(value.where,
                           absl::StrCat(context, ": ", canonical.status().message()));
        ok = false;
        continue;
      }
      if (!seen.insert(*canonical).second) {
        diagnostics->Error(value.where, absl::StrCat(context, ": ", param->name, ": value ",
                                                     *canonical, " is listed twice"));
        ok = false;
        continue;
      }
      axis.values.push_back(*std::move(canonical));
    }
    if (!axis.values.empty()) entry->axes.push_back(std::move(axis));
  }
  for (const GridParamSchema& param : schema.params) {
    if (param.has_default || param.derived) continue;
    bool given = false;
    for (const YamlField& field : fields) given = given || field.key == param.name;
    if (!given) {
      diagnostics->Error(entry->where, absl::StrCat(context, ": ", param.name,
                                                    " is required (", param.doc, ")"));
      ok = false;
    }
  }
  return ok;
}

}  // namespace

std::string WhereParamBelongs(absl::string_view key) {
  std::vector<std::string> owners;
  for (const auto* list : {&GridMethodSchemas(), &GridTaskSchemas()}) {
    for (const GridEntrySchema& schema : *list) {
      if (schema.FindParam(key) != nullptr) owners.push_back(schema.name);
    }
  }
  if (GridCalibrationSchema().FindParam(key) != nullptr) owners.push_back("calibration");
  if (owners.empty()) return "";
  return absl::StrCat(key, " is a parameter of ", absl::StrJoin(owners, ", "));
}

bool ParseListedEntry(const YAML::Node& node, GridEntryKind kind, absl::string_view grid_file,
                      GridDiagnostics* diagnostics, GridEntry* entry) {
  const bool is_method = kind == GridEntryKind::kMethod;
  const absl::string_view section = is_method ? "methods" : "tasks";
  const std::vector<std::string> known = is_method ? GridMethodNames() : GridTaskNames();
  entry->where = LocationOf(node);
  std::vector<YamlField> fields;
  GridLocation name_where = entry->where;
  if (node.IsScalar()) {
    entry->name = node.Scalar();
  } else if (node.IsMap()) {
    bool has_name = false;
    for (YamlField& field : ReadFields(node, diagnostics)) {
      if (field.key != "name") {
        fields.push_back(std::move(field));
        continue;
      }
      has_name = true;
      name_where = field.value_where;
      if (!ReadScalar(field.value, field.value_where, absl::StrCat(section, ": name"),
                      is_method ? "one method name" : "one task name", diagnostics,
                      &entry->name)) {
        return false;
      }
    }
    if (!has_name) {
      diagnostics->Error(entry->where,
                         absl::StrCat(section, ": expected a \"name\" key, one of ",
                                      absl::StrJoin(known, ", ")));
      return false;
    }
  } else {
    diagnostics->Error(entry->where,
                       absl::StrCat(section, ": expected a ", is_method ? "method" : "task",
                                    " name or a map with name and parameters, got ",
                                    DescribeNode(node)));
    return false;
  }
  const GridEntrySchema* schema =
      is_method ? FindGridMethod(entry->name) : FindGridTask(entry->name);
  if (schema == nullptr) {
    std::string message = absl::StrCat(section, ": unknown ", is_method ? "method" : "task",
                                       " \"", entry->name, "\"");
    const std::string suggestion = DidYouMean(entry->name, known);
    if (!suggestion.empty()) {
      absl::StrAppend(&message, suggestion);
    } else {
      absl::StrAppend(&message, "; known: ", absl::StrJoin(known, ", "));
    }
    diagnostics->Error(name_where, message);
    return false;
  }
  return ParseParams(fields, *schema, absl::StrCat(section, ": ", entry->name), grid_file,
                     diagnostics, entry);
}

bool ParseCalibration(const YamlField& field, absl::string_view grid_file,
                      GridDiagnostics* diagnostics, GridEntry* entry) {
  entry->name = "calibration";
  entry->where = field.value_where;
  if (!field.value.IsMap()) {
    diagnostics->Error(field.value_where,
                       absl::StrCat("calibration: expected a map of dataset, samples, seq_len, "
                                    "seed, mode, got ",
                                    DescribeNode(field.value)));
    return false;
  }
  return ParseParams(ReadFields(field.value, diagnostics), GridCalibrationSchema(),
                     "calibration", grid_file, diagnostics, entry);
}

}  // namespace llmq
