// Internal to the grid parser: reading yaml-cpp nodes with their places in the file, and
// reporting what was found where something else was expected. Nothing here throws.
#ifndef LLMQ_PROTO_GRID_YAML_H_
#define LLMQ_PROTO_GRID_YAML_H_

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/strings/string_view.h"
#include "proto/grid_diagnostics.h"

namespace llmq {

// yaml-cpp marks are 0-based; GridLocation is 1-based (unknown: line 0).
GridLocation LocationOf(const YAML::Node& node);

// What a node is, for messages: "a list", "a map", "nothing", "\"text\"".
std::string DescribeNode(const YAML::Node& node);

// One key of a map, in file order.
struct YamlField {
  std::string key;
  GridLocation key_where;
  YAML::Node value;
  GridLocation value_where;  // the key's place when the value is empty
};

// The fields of a map node; reports keys that are not scalars and keys written twice.
// Supports YAML merge keys: "<<: *defaults" adds the anchored map's fields that this map
// does not set itself.
std::vector<YamlField> ReadFields(const YAML::Node& map, GridDiagnostics* diagnostics);

// The text of a scalar node; otherwise reports "<what>: expected <expected>, got ..." at
// `where` (or at the node) and returns false.
bool ReadScalar(const YAML::Node& node, GridLocation where, absl::string_view what,
                absl::string_view expected, GridDiagnostics* diagnostics, std::string* text);

// A scalar or a list of scalars (an axis): each value's text and place. Reports nothing,
// maps, lists inside lists, empty values and empty lists.
struct YamlValue {
  std::string text;
  GridLocation where;
};
bool ReadValues(const YamlField& field, absl::string_view what, GridDiagnostics* diagnostics,
                std::vector<YamlValue>* values);

// Reports `field.key` as unknown in `context` ("methods[1] (rtn)"), with a "did you mean"
// among `known`, and `hint` when given.
void ReportUnknownKey(const YamlField& field, absl::string_view context,
                      const std::vector<std::string>& known, absl::string_view hint,
                      GridDiagnostics* diagnostics);

}  // namespace llmq

#endif  // LLMQ_PROTO_GRID_YAML_H_
