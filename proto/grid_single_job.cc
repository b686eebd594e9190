// ParseSingleJob: `llmq-worker run-job job.yaml` reads the grid format and insists that it
// describes exactly one job.
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "proto/grid.h"

namespace llmq {
namespace {

// "methods: rtn: bits (2 values, line 7)" for each axis of `entry` with several values.
void AddAxesWithSeveralValues(const GridEntry& entry, absl::string_view section,
                              std::vector<std::string>* out) {
  for (const GridAxis& axis : entry.axes) {
    if (axis.values.size() < 2) continue;
    out->push_back(absl::StrCat(section, entry.name, ": ", axis.param, " (",
                                axis.values.size(), " values, line ", axis.where.line, ")"));
  }
}

std::string DescribeSeveralValues(const Grid& grid) {
  std::vector<std::string> reasons;
  if (grid.models.size() > 1) reasons.push_back(absl::StrCat(grid.models.size(), " models"));
  for (const GridModel& model : grid.models) {
    if (model.dtypes.size() > 1) {
      reasons.push_back(absl::StrCat("models: ", model.alias, ": dtype (", model.dtypes.size(),
                                     " values, line ", model.where.line, ")"));
    }
  }
  if (grid.methods.size() > 1) reasons.push_back(absl::StrCat(grid.methods.size(), " methods"));
  for (const GridEntry& entry : grid.methods) AddAxesWithSeveralValues(entry, "methods: ", &reasons);
  AddAxesWithSeveralValues(grid.calibration, "", &reasons);
  if (grid.tasks.size() > 1) reasons.push_back(absl::StrCat(grid.tasks.size(), " tasks"));
  for (const GridEntry& entry : grid.tasks) AddAxesWithSeveralValues(entry, "tasks: ", &reasons);
  if (grid.repeats > 1) reasons.push_back(absl::StrCat("repeats: ", grid.repeats));
  return absl::StrJoin(reasons, "; ");
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file,
                                           const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const Grid grid, ParseGrid(yaml, file));
  LLMQ_ASSIGN_OR_RETURN(std::vector<v1::JobSpec> jobs, ExpandGrid(grid, identities));
  if (jobs.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": a job file describes exactly one job; this one describes ", jobs.size(),
        " (", DescribeSeveralValues(grid), "); give each axis one value, or submit it as a "
        "grid with llmq-coord submit"));
  }
  return std::move(jobs[0]);
}

absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file) {
  LLMQ_ASSIGN_OR_RETURN(const Grid grid, ParseGrid(yaml, file));
  LLMQ_ASSIGN_OR_RETURN(const PathIdentities identities, ComputeGridIdentities(grid));
  return ParseSingleJob(yaml, file, identities);
}

}  // namespace llmq
