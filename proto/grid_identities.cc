// ComputeGridIdentities: the identities of every model and dataset file a grid names, as
// the client computes them before a submission.
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "proto/grid.h"
#include "proto/grid_schema.h"

namespace llmq {
namespace {

// The error of reading a file the grid names, at the place the grid names it.
absl::Status AtPlace(const Grid& grid, GridLocation where, absl::string_view what,
                     const absl::Status& status) {
  return absl::Status(status.code(),
                      FormatGridError(grid.file, where, absl::StrCat(what, ": ", status.message())));
}

// Adds the identity of every file-valued parameter of `entry` (a dataset path).
absl::Status AddFileIdentities(const Grid& grid, const GridEntry& entry,
                               const GridEntrySchema& schema, absl::string_view section,
                               PathIdentities* identities) {
  for (const GridAxis& axis : entry.axes) {
    const GridParamSchema* param = schema.FindParam(axis.param);
    for (const std::string& value : axis.values) {
      if (param == nullptr || !IsFileValue(*param, value) || identities->count(value) != 0) {
        continue;
      }
      absl::StatusOr<std::string> identity = ComputeFileIdentity(value);
      if (!identity.ok()) {
        return AtPlace(grid, axis.where, absl::StrCat(section, entry.name, ": ", axis.param),
                       identity.status());
      }
      (*identities)[value] = *identity;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PathIdentities> ComputeGridIdentities(const Grid& grid) {
  PathIdentities identities;
  for (const GridModel& model : grid.models) {
    if (identities.count(model.path) != 0) continue;
    absl::StatusOr<std::string> identity = ComputeModelIdentity(model.path);
    if (!identity.ok()) {
      return AtPlace(grid, model.where, absl::StrCat("models: ", model.alias), identity.status());
    }
    identities[model.path] = *identity;
  }
  for (const GridEntry& entry : grid.methods) {
    if (const GridEntrySchema* schema = FindGridMethod(entry.name)) {
      LLMQ_RETURN_IF_ERROR(AddFileIdentities(grid, entry, *schema, "methods: ", &identities));
    }
  }
  LLMQ_RETURN_IF_ERROR(
      AddFileIdentities(grid, grid.calibration, GridCalibrationSchema(), "", &identities));
  for (const GridEntry& entry : grid.tasks) {
    if (const GridEntrySchema* schema = FindGridTask(entry.name)) {
      LLMQ_RETURN_IF_ERROR(AddFileIdentities(grid, entry, *schema, "tasks: ", &identities));
    }
  }
  return identities;
}

}  // namespace llmq
