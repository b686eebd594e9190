// Reading a method entry's `overrides` from the grid file (grid/overrides.h says what they
// mean). Internal to the grid parser.
#ifndef LLMQ_GRID_OVERRIDES_YAML_H_
#define LLMQ_GRID_OVERRIDES_YAML_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grid/yaml.h"

namespace llmq {

// `field` is an entry's `overrides:`. Its value is a list of maps (one variant), a list of
// such lists (an axis: one variant each), or the canonical string. Appends each variant's
// canonical string to `variants`; reports every problem at its line:column (unknown fields
// with "did you mean", values out of range, keep with other fields, an override method
// that calibrates under an entry method that does not) and returns false if there was one.
// Whether the grid method `method` draws calibration windows.
bool IsCalibratingMethodName(absl::string_view method);

bool ReadOverrideVariants(const YamlField& field, absl::string_view context,
                          absl::string_view entry_method, GridDiagnostics* diagnostics,
                          std::vector<std::string>* variants);

}  // namespace llmq

#endif  // LLMQ_GRID_OVERRIDES_YAML_H_
