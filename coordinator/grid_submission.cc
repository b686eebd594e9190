#include "coordinator/grid_submission.h"

#include "common/files.h"
#include "common/status.h"
#include "grid/grid.h"
#include "grid/values.h"

namespace llmq {

absl::StatusOr<PreparedSubmission> PrepareSubmission(const std::string& grid_path,
                                                     bool dry_run) {
  LLMQ_ASSIGN_OR_RETURN(std::string yaml, ReadFile(grid_path));
  const std::string absolute = MakeAbsolutePath(grid_path);
  LLMQ_ASSIGN_OR_RETURN(Grid grid, ParseGrid(yaml, absolute));
  LLMQ_ASSIGN_OR_RETURN(PathIdentities identities, ComputeGridIdentities(grid));
  LLMQ_ASSIGN_OR_RETURN(std::vector<v1::JobSpec> jobs, ExpandGrid(grid, identities));
  PreparedSubmission prepared;
  prepared.sweep_name = grid.name;
  prepared.jobs = static_cast<int64_t>(jobs.size());
  prepared.request.set_grid_yaml(std::move(yaml));
  prepared.request.set_grid_path(absolute);
  prepared.request.set_dry_run(dry_run);
  for (const auto& [path, identity] : identities) {
    (*prepared.request.mutable_model_identity())[path] = identity;
  }
  return prepared;
}

absl::StatusOr<SweepSubmission> ExpandSubmission(const v1::SubmitSweepRequest& request) {
  LLMQ_ASSIGN_OR_RETURN(Grid grid, ParseGrid(request.grid_yaml(), request.grid_path()));
  const PathIdentities identities(request.model_identity().begin(),
                                  request.model_identity().end());
  SweepSubmission submission;
  LLMQ_ASSIGN_OR_RETURN(submission.jobs, ExpandGrid(grid, identities));
  submission.name = grid.name;
  submission.grid_yaml = request.grid_yaml();
  submission.grid_path = request.grid_path();
  submission.dry_run = request.dry_run();
  return submission;
}

}  // namespace llmq
