#include "proto/grid_diagnostics.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmq {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
int EditDistance(absl::string_view a, absl::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string FormatGridError(absl::string_view file, GridLocation where,
                            absl::string_view message) {
  if (where.line <= 0) return absl::StrCat(file, ": ", message);
  return absl::StrCat(file, ":", where.line, ":", where.column, ": ", message);
}

void GridDiagnostics::Error(GridLocation where, absl::string_view message) {
  ++count_;
  if (static_cast<int>(errors_.size()) < kMaxErrors) {
    errors_.push_back(FormatGridError(file_, where, message));
  }
}

absl::Status GridDiagnostics::ToStatus() const {
  if (ok()) return absl::OkStatus();
  std::string message = absl::StrJoin(errors_, "\n");
  if (count_ > static_cast<int>(errors_.size())) {
    absl::StrAppend(&message, "\n", file_, ": ... and ", count_ - errors_.size(),
                    " more errors");
  }
  return absl::InvalidArgumentError(message);
}

std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates) {
  const int allowed =
      std::min(3, std::max(1, static_cast<int>(word.size()) / 3));
  std::string best;
  int best_distance = allowed + 1;
  for (const std::string& candidate : candidates) {
    const int distance = EditDistance(word, candidate);
    // A word every letter of which differs ("y" vs "x") is no typo.
    if (distance < best_distance && distance < static_cast<int>(word.size())) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates) {
  const std::string match = ClosestMatch(word, candidates);
  if (match.empty()) return "";
  return absl::StrCat(" (did you mean \"", match, "\"?)");
}

}  // namespace llmq
