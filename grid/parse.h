// Internal to the grid parser: one method, one task, or the calibration block, from YAML to
// a GridEntry whose axes hold canonical values. Parameters are checked against the schema
// table (schema.h); problems are reported to the diagnostics, each at its place.
#ifndef LLMQ_GRID_PARSE_H_
#define LLMQ_GRID_PARSE_H_

#include <string>
#include <yaml-cpp/yaml.h>

#include "absl/strings/string_view.h"
#include "grid/grid.h"
#include "grid/yaml.h"

namespace llmq {

enum class GridEntryKind { kMethod, kTask };

// An item of `methods:` or `tasks:`: a bare name ("- none") or a map with `name` and
// parameters. False when it cannot be used (the error is reported).
bool ParseListedEntry(const YAML::Node& node, GridEntryKind kind, absl::string_view grid_file,
                      GridDiagnostics* diagnostics, GridEntry* entry);

// The `calibration:` map.
bool ParseCalibration(const YamlField& field, absl::string_view grid_file,
                      GridDiagnostics* diagnostics, GridEntry* entry);

// "damp is a parameter of gptq" when `key` is a parameter of some method or task (or of the
// calibration block), else "".
std::string WhereParamBelongs(absl::string_view key);

}  // namespace llmq

#endif  // LLMQ_GRID_PARSE_H_
