// ParseSingleJob: `llmq-worker run-job job.yaml` reads the grid format and insists that it
// describes exactly one job; FormatJobAsGrid writes such a file.
#include <map>
#include <vector>

#include <yaml-cpp/yaml.h>

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

// `name: ...` followed by the parameters, sorted.
void EmitEntry(const std::string& name, const google::protobuf::Map<std::string, std::string>& params,
               YAML::Emitter* out) {
  *out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name;
  for (const auto& [key, value] : std::map<std::string, std::string>(params.begin(),
                                                                     params.end())) {
    *out << YAML::Key << key << YAML::Value << value;
  }
  *out << YAML::EndMap;
}

}  // namespace

std::string FormatJobAsGrid(const v1::JobSpec& job) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << job.sweep_name();
  out << YAML::Key << "models" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << job.model().alias();
  out << YAML::Key << "path" << YAML::Value << job.model().path();
  out << YAML::Key << "dtype" << YAML::Value << job.model().dtype();
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "methods" << YAML::Value << YAML::BeginSeq;
  EmitEntry(job.method().name(), job.method().params(), &out);
  out << YAML::EndSeq;
  if (job.has_calibration()) {
    const v1::CalibrationSpec& c = job.calibration();
    out << YAML::Key << "calibration" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "dataset" << YAML::Value << c.dataset();
    out << YAML::Key << "samples" << YAML::Value << c.samples();
    out << YAML::Key << "seq_len" << YAML::Value << c.seq_len();
    out << YAML::Key << "seed" << YAML::Value << c.seed();
    out << YAML::Key << "mode" << YAML::Value << c.mode();
    out << YAML::EndMap;
  }
  out << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
  EmitEntry(job.task().name(), job.task().params(), &out);
  out << YAML::EndSeq;
  if (job.repeat() > 0) {  // repeat r of r+1: the only job the filter leaves
    out << YAML::Key << "repeats" << YAML::Value << job.repeat() + 1;
    out << YAML::Key << "include" << YAML::Value << YAML::BeginSeq << YAML::Flow
        << YAML::BeginMap << YAML::Key << "repeat" << YAML::Value << job.repeat()
        << YAML::EndMap << YAML::EndSeq;
  }
  out << YAML::Key << "timeout" << YAML::Value << job.timeout_seconds();
  out << YAML::Key << "max_attempts" << YAML::Value << job.max_attempts();
  out << YAML::Key << "priority" << YAML::Value << job.priority();
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "device" << YAML::Value << job.resources().device();
  out << YAML::Key << "memory" << YAML::Value << job.resources().memory_bytes();
  out << YAML::EndMap << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

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
