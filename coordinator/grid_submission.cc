#include "coordinator/grid_submission.h"

#include <filesystem>
#include <memory>

#include "common/files.h"
#include "common/status.h"
#include "grid/grid.h"
#include "grid/values.h"

namespace llmq {
namespace {

// The bytes of a model's weight files (safetensors, llama2.c .bin, .pt): what the cost
// model derives the parameter count from. 0 when unreadable.
int64_t WeightBytes(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    return static_cast<int64_t>(std::filesystem::file_size(path, error));
  }
  int64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string extension = entry.path().extension().string();
    if (extension != ".safetensors" && extension != ".bin" && extension != ".pt") continue;
    std::error_code size_error;
    const auto size = entry.file_size(size_error);
    if (!size_error) total += static_cast<int64_t>(size);
  }
  return total;
}

}  // namespace

absl::StatusOr<PreparedSubmission> PrepareSubmission(const std::string& grid_path,
                                                     bool dry_run, int64_t max_jobs) {
  LLMQ_ASSIGN_OR_RETURN(std::string yaml, ReadFile(grid_path));
  const std::string absolute = MakeAbsolutePath(grid_path);
  LLMQ_ASSIGN_OR_RETURN(Grid grid, ParseGrid(yaml, absolute));
  LLMQ_RETURN_IF_ERROR(ReadGridModelBlocks(&grid));  // a config read each, only for a scan
  // Before the identities: refusing a grid should not wait for its models to be hashed.
  LLMQ_RETURN_IF_ERROR(CheckGridJobLimit(grid, max_jobs, "--max_jobs"));
  LLMQ_ASSIGN_OR_RETURN(PathIdentities identities, ComputeGridIdentities(grid));
  PreparedSubmission prepared;
  LLMQ_ASSIGN_OR_RETURN(prepared.jobs,
                        ForEachGridJob(grid, identities, [](const v1::JobSpec&) {
                          return absl::OkStatus();  // counted, checked, not kept
                        }));
  prepared.sweep_name = grid.name;
  prepared.request.set_grid_yaml(std::move(yaml));
  prepared.request.set_grid_path(absolute);
  prepared.request.set_dry_run(dry_run);
  for (const auto& [path, identity] : identities) {
    (*prepared.request.mutable_model_identity())[path] = identity;
  }
  for (const GridModel& model : grid.models) {
    (*prepared.request.mutable_model_bytes())[model.path] = WeightBytes(model.path);
    if (model.blocks > 0) (*prepared.request.mutable_model_blocks())[model.path] = model.blocks;
  }
  return prepared;
}

absl::StatusOr<SweepSubmission> ExpandSubmission(const v1::SubmitSweepRequest& request,
                                                 int64_t max_jobs) {
  LLMQ_ASSIGN_OR_RETURN(Grid grid, ParseGrid(request.grid_yaml(), request.grid_path()));
  for (GridModel& model : grid.models) {
    const auto blocks = request.model_blocks().find(model.path);
    if (blocks != request.model_blocks().end()) model.blocks = blocks->second;
  }
  LLMQ_RETURN_IF_ERROR(CheckGridJobLimit(grid, max_jobs, "the coordinator's --max_jobs"));
  SweepSubmission submission;
  submission.name = grid.name;
  submission.grid_yaml = request.grid_yaml();
  submission.grid_path = request.grid_path();
  submission.dry_run = request.dry_run();
  submission.model_bytes.insert(request.model_bytes().begin(), request.model_bytes().end());
  // Shared, so that the source stays copyable (std::function) without copying the grid.
  auto expansion = std::make_shared<const std::pair<Grid, PathIdentities>>(
      std::move(grid),
      PathIdentities(request.model_identity().begin(), request.model_identity().end()));
  submission.jobs = [expansion](JobSink sink) {
    return ForEachGridJob(expansion->first, expansion->second, sink);
  };
  return submission;
}

}  // namespace llmq
