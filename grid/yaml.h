// How the grid parser reports problems: every error names a place in the file as
// `file:line:column: message` (1-based, as editors show them), errors are collected so one
// run shows several of them, and unknown names come with a "did you mean" suggestion.
#ifndef LLMQ_GRID_YAML_H_
#define LLMQ_GRID_YAML_H_

#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace llmq {

// A place in the grid file, 1-based; line 0 = unknown (the message then names only the file).
struct GridLocation {
  int line = 0;
  int column = 0;
};

// "file:line:column: message", or "file: message" when the place is unknown.
std::string FormatGridError(absl::string_view file, GridLocation where,
                            absl::string_view message);

// Collects errors in the order they are found.
class GridDiagnostics {
 public:
  // At most this many errors are kept; the status says how many more there were.
  static constexpr int kMaxErrors = 20;

  explicit GridDiagnostics(std::string file) : file_(std::move(file)) {}

  void Error(GridLocation where, absl::string_view message);
  bool ok() const { return count_ == 0; }
  int count() const { return count_; }

  // OK, or InvalidArgument whose message lists the errors, one per line.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::string> errors_;
  int count_ = 0;
};

// The candidate closest to `word` (optimal-string-alignment distance, so a swapped pair of
// letters counts one edit), or "" when none is within a third of the word's length (at
// least 1, at most 3 edits, and fewer than the word's length).
std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates);

// " (did you mean \"x\"?)" for the closest candidate, or "".
std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates);

}  // namespace llmq

// Internal to the grid parser: reading yaml-cpp nodes with their places in the file, and
// reporting what was found where something else was expected. Nothing here throws.
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

#endif  // LLMQ_GRID_YAML_H_
