// ParseGrid and LoadGridFile: the top level of the grid file (name, models, methods,
// calibration, tasks, filters, zip, repeats and the per-job options). Methods, tasks and
// calibration are read by ParseListedEntry / ParseCalibration below, filters and zip
// by expand.h.
#include "grid/parse.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status.h"
#include "grid/expand.h"
#include "grid/grid.h"
#include "grid/overrides_yaml.h"
#include "grid/schema.h"
#include "grid/values.h"
#include "grid/yaml.h"

namespace llmq {
namespace {

const std::vector<std::string>& TopLevelKeys() {
  static const auto* keys = new std::vector<std::string>{
      "name",    "models",  "methods", "calibration",  "tasks",   "include",  "exclude",
      "zip",     "repeats", "timeout", "max_attempts", "priority", "resources"};
  return *keys;
}

// "assets/models/stories260K.bin" -> "stories260K".
std::string DefaultAlias(absl::string_view path) {
  const size_t slash = path.find_last_of('/');
  absl::string_view last = slash == absl::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = last.find_last_of('.');
  if (dot != absl::string_view::npos && dot > 0) last = last.substr(0, dot);
  return std::string(last);
}

class GridParser {
 public:
  GridParser(absl::string_view file, Grid* grid) : diagnostics_(std::string(file)), grid_(grid) {
    grid_->file = std::string(file);
  }

  absl::Status Parse(absl::string_view yaml);

 private:
  void ParseTop(const YAML::Node& root);
  void ParseModels(const YamlField& field);
  void ParseModel(const YAML::Node& node);
  void ParseEntries(const YamlField& field, GridEntryKind kind, std::vector<GridEntry>* out);
  void ParseResources(const YamlField& field);
  // Reads an integer option in [min, max].
  bool ReadInt(const YamlField& field, int64_t min, int64_t max, int64_t* value);
  bool ReadText(const YamlField& field, absl::string_view expected, std::string* text) {
    return ReadScalar(field.value, field.value_where, field.key, expected, &diagnostics_, text);
  }

  GridDiagnostics diagnostics_;
  Grid* grid_;
};

absl::Status GridParser::Parse(absl::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    const GridLocation where =
        e.mark.is_null() ? GridLocation{} : GridLocation{e.mark.line + 1, e.mark.column + 1};
    diagnostics_.Error(where, absl::StrCat("YAML syntax error: ", e.msg));
    return diagnostics_.ToStatus();
  }
  if (!root.IsDefined() || root.IsNull()) {
    diagnostics_.Error({}, "the grid is empty: expected a map with models, methods and tasks");
    return diagnostics_.ToStatus();
  }
  if (!root.IsMap()) {
    diagnostics_.Error(LocationOf(root),
                       absl::StrCat("expected a map with models, methods and tasks at the top "
                                    "level, got ",
                                    DescribeNode(root)));
    return diagnostics_.ToStatus();
  }
  ParseTop(root);
  return diagnostics_.ToStatus();
}

void GridParser::ParseTop(const YAML::Node& root) {
  std::map<std::string, YamlField> fields;
  for (YamlField& field : ReadFields(root, &diagnostics_)) {
    const auto& keys = TopLevelKeys();
    if (std::find(keys.begin(), keys.end(), field.key) == keys.end()) {
      const std::string owner = WhereParamBelongs(field.key);
      ReportUnknownKey(field, "grid", keys,
                       owner.empty() ? "" : absl::StrCat(owner, "; write it there"),
                       &diagnostics_);
      continue;
    }
    fields.emplace(field.key, std::move(field));
  }
  const GridLocation top = LocationOf(root);
  auto field = [&](const char* key) -> const YamlField* {
    const auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  };
  grid_->name = DefaultAlias(grid_->file);
  if (const YamlField* f = field("name")) {
    if (ReadText(*f, "the sweep's name", &grid_->name) && grid_->name.empty()) {
      diagnostics_.Error(f->value_where, "name: expected the sweep's name, got \"\"");
    }
  }
  if (const YamlField* f = field("models")) {
    ParseModels(*f);
  } else {
    diagnostics_.Error(top, "expected a \"models\" key: the models to evaluate");
  }
  if (const YamlField* f = field("methods")) {
    ParseEntries(*f, GridEntryKind::kMethod, &grid_->methods);
  } else {
    grid_->methods.push_back({"none", {}, {}, top});  // evaluating models as they are
  }
  grid_->calibration = {"calibration", {}, {}, top};
  if (const YamlField* f = field("calibration")) {
    ParseCalibration(*f, grid_->file, &diagnostics_, &grid_->calibration);
  }
  if (const YamlField* f = field("tasks")) {
    ParseEntries(*f, GridEntryKind::kTask, &grid_->tasks);
  } else {
    diagnostics_.Error(top, "expected a \"tasks\" key: what to evaluate the models on");
  }
  int64_t value = 0;
  if (const YamlField* f = field("repeats"); f && ReadInt(*f, 1, 1000, &value)) {
    grid_->repeats = static_cast<int>(value);
  }
  if (const YamlField* f = field("max_attempts"); f && ReadInt(*f, 1, 100, &value)) {
    grid_->max_attempts = static_cast<int>(value);
  }
  if (const YamlField* f = field("priority"); f && ReadInt(*f, -1000000, 1000000, &value)) {
    grid_->priority = static_cast<int>(value);
  }
  if (const YamlField* f = field("timeout")) {
    std::string text;
    if (ReadText(*f, "a duration like 30m", &text)) {
      absl::StatusOr<int64_t> seconds = ParseDurationSeconds(text);
      if (seconds.ok()) {
        grid_->timeout_seconds = *seconds;
      } else {
        diagnostics_.Error(f->value_where, absl::StrCat("timeout: ", seconds.status().message()));
      }
    }
  }
  if (const YamlField* f = field("resources")) ParseResources(*f);
  if (const YamlField* f = field("zip")) ParseZip(*f, grid_, &diagnostics_);
  // Filters check model aliases and repeat indexes: after models and repeats.
  if (const YamlField* f = field("include")) {
    ParseFilters(*f, *grid_, &diagnostics_, &grid_->include);
  }
  if (const YamlField* f = field("exclude")) {
    ParseFilters(*f, *grid_, &diagnostics_, &grid_->exclude);
  }
}

void GridParser::ParseModels(const YamlField& field) {
  if (!field.value.IsSequence() || field.value.size() == 0) {
    diagnostics_.Error(field.value_where,
                       absl::StrCat("models: expected a list of models (- path: ...), got ",
                                    DescribeNode(field.value)));
    return;
  }
  for (const YAML::Node& node : field.value) ParseModel(node);
  std::map<std::string, GridLocation> aliases;
  for (const GridModel& model : grid_->models) {
    const auto [previous, inserted] = aliases.emplace(model.alias, model.where);
    if (!inserted) {
      diagnostics_.Error(model.where,
                         absl::StrCat("models: the name \"", model.alias,
                                      "\" is used twice (first at line ",
                                      previous->second.line, "); give each model its own name"));
    }
  }
}

void GridParser::ParseModel(const YAML::Node& node) {
  GridModel model;
  model.where = LocationOf(node);
  model.dtypes = {"float32"};
  std::string path_text;
  GridLocation path_where = model.where;
  if (node.IsScalar()) {
    path_text = node.Scalar();
  } else if (node.IsMap()) {
    bool has_path = false;
    for (const YamlField& field : ReadFields(node, &diagnostics_)) {
      if (field.key == "name" || field.key == "alias") {
        if (!model.alias.empty()) {
          diagnostics_.Error(field.key_where, "models: give either name or alias, not both");
        }
        ReadText(field, "the model's name in tables", &model.alias);
      } else if (field.key == "path") {
        has_path = ReadText(field, "a model directory or llama2.c checkpoint", &path_text);
        path_where = field.value_where;
      } else if (field.key == "dtype") {
        std::vector<YamlValue> values;
        if (!ReadValues(field, "models: dtype", &diagnostics_, &values)) continue;
        model.dtypes.clear();
        for (const YamlValue& value : values) {
          absl::StatusOr<std::string> dtype = CanonicalDtype(value.text);
          if (!dtype.ok()) {
            diagnostics_.Error(value.where, absl::StrCat("models: ", dtype.status().message()));
          } else if (std::find(model.dtypes.begin(), model.dtypes.end(), *dtype) !=
                     model.dtypes.end()) {
            diagnostics_.Error(value.where, absl::StrCat("models: dtype ", *dtype,
                                                         " is listed twice"));
          } else {
            model.dtypes.push_back(*dtype);
          }
        }
      } else {
        ReportUnknownKey(field, "models", {"name", "path", "dtype"}, "", &diagnostics_);
      }
    }
    if (!has_path) {
      diagnostics_.Error(model.where, "models: expected a \"path\" key (a Hugging Face "
                                      "directory or a llama2.c checkpoint)");
      return;
    }
  } else {
    diagnostics_.Error(model.where,
                       absl::StrCat("models: expected a path or a map with name, path, dtype, "
                                    "got ",
                                    DescribeNode(node)));
    return;
  }
  absl::StatusOr<std::string> path = ResolveGridPath(grid_->file, path_text);
  if (!path.ok()) {
    diagnostics_.Error(path_where, absl::StrCat("models: path: ", path.status().message()));
    return;
  }
  model.path = *path;
  if (model.alias.empty()) model.alias = DefaultAlias(model.path);
  grid_->models.push_back(std::move(model));
}

void GridParser::ParseEntries(const YamlField& field, GridEntryKind kind,
                              std::vector<GridEntry>* out) {
  if (!field.value.IsSequence() || field.value.size() == 0) {
    diagnostics_.Error(field.value_where,
                       absl::StrCat(field.key, ": expected a list of ",
                                    kind == GridEntryKind::kMethod ? "methods" : "tasks",
                                    " (- name: ...), got ", DescribeNode(field.value)));
    return;
  }
  for (const YAML::Node& node : field.value) {
    GridEntry entry;
    if (ParseListedEntry(node, kind, grid_->file, &diagnostics_, &entry)) {
      out->push_back(std::move(entry));
    }
  }
}

void GridParser::ParseResources(const YamlField& field) {
  if (!field.value.IsMap()) {
    diagnostics_.Error(field.value_where,
                       absl::StrCat("resources: expected a map like {device: cuda, memory: "
                                    "16GiB}, got ",
                                    DescribeNode(field.value)));
    return;
  }
  for (const YamlField& f : ReadFields(field.value, &diagnostics_)) {
    std::string text;
    if (f.key == "device") {
      if (!ReadText(f, "any, cpu or cuda", &text)) continue;
      if (text == "any" || text == "cpu" || text == "cuda") {
        grid_->device = text;
      } else {
        diagnostics_.Error(f.value_where, absl::StrCat("resources: device: expected any, cpu "
                                                       "or cuda, got \"", text, "\""));
      }
    } else if (f.key == "memory") {
      if (!ReadText(f, "a size like 16GiB", &text)) continue;
      absl::StatusOr<int64_t> bytes = ParseByteSize(text);
      if (bytes.ok()) {
        grid_->memory_bytes = *bytes;
      } else {
        diagnostics_.Error(f.value_where,
                           absl::StrCat("resources: memory: ", bytes.status().message()));
      }
    } else {
      ReportUnknownKey(f, "resources", {"device", "memory"}, "", &diagnostics_);
    }
  }
}

bool GridParser::ReadInt(const YamlField& field, int64_t min, int64_t max, int64_t* value) {
  std::string text;
  const std::string expected = absl::StrCat("an integer in ", min, "..", max);
  if (!ReadText(field, expected, &text)) return false;
  absl::StatusOr<int64_t> parsed = ParseGridInt(text);
  if (!parsed.ok() || *parsed < min || *parsed > max) {
    diagnostics_.Error(field.value_where,
                       absl::StrCat(field.key, ": expected ", expected, ", got \"", text, "\""));
    return false;
  }
  *value = *parsed;
  return true;
}

}  // namespace

absl::StatusOr<Grid> ParseGrid(absl::string_view yaml, absl::string_view file) {
  Grid grid;
  GridParser parser(file, &grid);
  // yaml-cpp throws on malformed input; the parser catches YAML::Exception itself, and this
  // guard turns anything else (bad_alloc, a yaml-cpp bug) into a status too.
  LLMQ_RETURN_IF_ERROR(CatchExceptions(absl::StrCat("parsing ", file),
                                       [&]() { return parser.Parse(yaml); }));
  return grid;
}

absl::StatusOr<Grid> LoadGridFile(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string yaml, ReadFile(path));
  return ParseGrid(yaml, MakeAbsolutePath(path));
}

}  // namespace llmq

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
    if (param->type == GridParamType::kOverrides) {
      GridAxis axis{param->name, {}, field.key_where};
      if (!ReadOverrideVariants(field, context, schema.name, diagnostics, &axis.values)) {
        ok = false;
      } else {
        entry->axes.push_back(std::move(axis));
      }
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
