// How the grid parser reports problems: every error names a place in the file as
// `file:line:column: message` (1-based, as editors show them), errors are collected so one
// run shows several of them, and unknown names come with a "did you mean" suggestion.
#ifndef LLMQ_PROTO_GRID_DIAGNOSTICS_H_
#define LLMQ_PROTO_GRID_DIAGNOSTICS_H_

#include <string>
#include <vector>

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

#endif  // LLMQ_PROTO_GRID_DIAGNOSTICS_H_
