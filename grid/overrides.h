// Per-layer precision: a method entry's `overrides`, a list of {pattern, bits, group_size,
// method} or {pattern, keep: true}. A block linear takes the first override whose pattern
// matches its name; it is then quantized with that override's method (default: the entry's)
// and bits / group_size (default: the entry's values when the method is the entry's, else
// that method's defaults), or left in the model's float dtype with keep. Layers no override
// matches are quantized as the entry says.
//
// A pattern is a glob ('*' any run, '?' one character) over the whole layer name or over
// any dotted suffix of it: "layers.0.*" and "model.layers.0.*" both match
// "model.layers.0.mlp.up_proj"; "*.down_proj" every down projection.
//
// The value is kept canonical in one string, which is what enters job keys:
//   "layers.0.*:keep;*.down_proj:bits=4,group_size=32;*.o_proj:method=rtn"
// entries in the file's order (order matters: the first match wins), fields sorted.
// Part of llmq_grid_schema (no proto, no YAML): quant/ parses the same string.
#ifndef LLMQ_GRID_OVERRIDES_H_
#define LLMQ_GRID_OVERRIDES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct LayerOverride {
  std::string pattern;
  bool keep = false;
  std::string method;                         // "" = the entry's method
  std::map<std::string, std::string> params;  // "bits", "group_size": canonical integers
};

// The fields an override may have, for messages and the parser.
const std::vector<std::string>& LayerOverrideFields();

// Checks one override (pattern characters, ranges, keep alone, a known method other than
// none) and canonicalizes its values; InvalidArgument naming the field otherwise.
absl::Status ValidateLayerOverride(LayerOverride* override_entry);

// The canonical string of a list, and back (InvalidArgument for a malformed string).
std::string FormatLayerOverrides(const std::vector<LayerOverride>& overrides);
absl::StatusOr<std::vector<LayerOverride>> ParseLayerOverrides(absl::string_view text);

// Whether `pattern` matches `layer` or one of its dotted suffixes (see above).
bool LayerPatternMatches(absl::string_view pattern, absl::string_view layer);

}  // namespace llmq

#endif  // LLMQ_GRID_OVERRIDES_H_
