// ExpandGrid: a parsed grid and the identities of its files -> job specs with canonical
// keys, in a deterministic order.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "proto/grid.h"
#include "proto/grid_axes.h"
#include "proto/grid_filters.h"
#include "proto/grid_schema.h"
#include "proto/grid_values.h"

namespace llmq {
namespace {

using Params = std::map<std::string, std::string>;

struct EntryVariant {
  const GridEntrySchema* schema;
  Params params;
};

// Every variant of `entry`, its parameters complete, file parameters checked for identity.
void CompleteVariants(const GridEntry& entry, const GridEntrySchema& schema,
                      absl::string_view section, const PathIdentities& identities,
                      GridDiagnostics* diagnostics, std::vector<EntryVariant>* out) {
  std::set<std::string> missing;
  for (const Params& given : EntryVariants(entry)) {
    absl::StatusOr<Params> params = CompleteParams(schema, given);
    if (!params.ok()) {
      diagnostics->Error(entry.where, absl::StrCat(section, params.status().message()));
      continue;
    }
    for (const auto& [name, value] : *params) {
      if (IsFileValue(*schema.FindParam(name), value) && identities.count(value) == 0 &&
          missing.insert(value).second) {
        diagnostics->Error(entry.where, absl::StrCat(section, schema.name, ": ", name,
                                                     ": no identity for file ", value,
                                                     " (ComputeGridIdentities computes it)"));
      }
    }
    out->push_back({&schema, *std::move(params)});
  }
}

v1::CalibrationSpec MakeCalibration(const Params& params) {
  v1::CalibrationSpec calibration;
  calibration.set_dataset(params.at("dataset"));
  calibration.set_samples(static_cast<int32_t>(*ParseGridInt(params.at("samples"))));
  calibration.set_seq_len(static_cast<int32_t>(*ParseGridInt(params.at("seq_len"))));
  calibration.set_seed(static_cast<uint64_t>(*ParseGridInt(params.at("seed"))));
  calibration.set_mode(params.at("mode"));
  return calibration;
}

// Counts, per filter, the jobs it matches; reports filters that match none.
void ReportUnusedFilters(const std::vector<GridFilter>& filters, absl::string_view section,
                         const std::vector<v1::JobSpec>& jobs, GridDiagnostics* diagnostics) {
  for (const GridFilter& filter : filters) {
    bool used = false;
    for (const v1::JobSpec& job : jobs) used = used || FilterMatches(filter, job);
    if (!used) {
      diagnostics->Error(filter.where, absl::StrCat(section, ": this entry matches no job of "
                                                             "the grid (a misspelt value?)"));
    }
  }
}

bool MatchesAny(const std::vector<GridFilter>& filters, const v1::JobSpec& job) {
  for (const GridFilter& filter : filters) {
    if (FilterMatches(filter, job)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<v1::JobSpec>> ExpandGrid(const Grid& grid,
                                                    const PathIdentities& identities) {
  GridDiagnostics diagnostics(grid.file);
  std::vector<v1::ModelSpec> models;
  std::map<std::pair<std::string, std::string>, const GridModel*> seen_models;
  for (const GridModel& model : grid.models) {
    const auto identity = identities.find(model.path);
    if (identity == identities.end()) {
      diagnostics.Error(model.where, absl::StrCat("models: no identity for ", model.path,
                                                  " (ComputeGridIdentities computes it)"));
      continue;
    }
    for (const std::string& dtype : model.dtypes) {
      const auto [previous, inserted] =
          seen_models.emplace(std::make_pair(identity->second, dtype), &model);
      if (!inserted) {
        diagnostics.Error(model.where,
                          absl::StrCat("models: ", model.alias, " has the same files as ",
                                       previous->second->alias, " (line ",
                                       previous->second->where.line,
                                       "): their jobs would be the same"));
        continue;
      }
      v1::ModelSpec spec;
      spec.set_alias(model.alias);
      spec.set_path(model.path);
      spec.set_dtype(dtype);
      spec.set_identity(identity->second);
      models.push_back(std::move(spec));
    }
  }
  std::vector<EntryVariant> methods, calibrations, tasks;
  bool any_calibrates = false;
  for (const GridEntry& entry : grid.methods) {
    const GridEntrySchema* schema = FindGridMethod(entry.name);
    if (schema == nullptr) return absl::InvalidArgumentError("unknown method " + entry.name);
    any_calibrates = any_calibrates || schema->calibrates;
    CompleteVariants(entry, *schema, "methods: ", identities, &diagnostics, &methods);
  }
  if (any_calibrates) {
    CompleteVariants(grid.calibration, GridCalibrationSchema(), "", identities, &diagnostics,
                     &calibrations);
  }
  for (const GridEntry& entry : grid.tasks) {
    const GridEntrySchema* schema = FindGridTask(entry.name);
    if (schema == nullptr) return absl::InvalidArgumentError("unknown task " + entry.name);
    CompleteVariants(entry, *schema, "tasks: ", identities, &diagnostics, &tasks);
  }
  LLMQ_RETURN_IF_ERROR(diagnostics.ToStatus());

  const std::vector<EntryVariant> no_calibration = {{nullptr, {}}};
  std::vector<v1::JobSpec> all;
  for (const v1::ModelSpec& model : models) {
    for (const EntryVariant& method : methods) {
      for (const EntryVariant& calibration :
           method.schema->calibrates ? calibrations : no_calibration) {
        for (const EntryVariant& task : tasks) {
          for (int repeat = 0; repeat < grid.repeats; ++repeat) {
            v1::JobSpec job;
            job.set_sweep_name(grid.name);
            *job.mutable_model() = model;
            job.mutable_method()->set_name(method.schema->name);
            job.mutable_method()->mutable_params()->insert(method.params.begin(),
                                                           method.params.end());
            if (calibration.schema != nullptr) {
              *job.mutable_calibration() = MakeCalibration(calibration.params);
            }
            job.mutable_task()->set_name(task.schema->name);
            job.mutable_task()->mutable_params()->insert(task.params.begin(),
                                                         task.params.end());
            job.set_repeat(repeat);
            job.set_max_attempts(grid.max_attempts);
            job.set_timeout_seconds(grid.timeout_seconds);
            job.set_priority(grid.priority);
            job.mutable_resources()->set_device(grid.device);
            job.mutable_resources()->set_memory_bytes(grid.memory_bytes);
            job.set_result_version(kResultVersion);
            all.push_back(std::move(job));
          }
        }
      }
    }
  }
  ReportUnusedFilters(grid.include, "include", all, &diagnostics);
  ReportUnusedFilters(grid.exclude, "exclude", all, &diagnostics);
  LLMQ_RETURN_IF_ERROR(diagnostics.ToStatus());

  std::vector<v1::JobSpec> jobs;
  std::set<std::string> keys;
  for (v1::JobSpec& job : all) {
    if (!grid.include.empty() && !MatchesAny(grid.include, job)) continue;
    if (MatchesAny(grid.exclude, job)) continue;
    LLMQ_ASSIGN_OR_RETURN(const std::string job_key, ComputeJobKey(job, identities));
    if (!keys.insert(job_key).second) continue;  // a duplicate keeps its first place
    LLMQ_ASSIGN_OR_RETURN(const std::string quant_key, ComputeQuantKey(job, identities));
    job.set_job_key(job_key);
    job.set_quant_key(quant_key);
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) {
    diagnostics.Error({}, absl::StrCat("the grid has no jobs: its ", all.size(),
                                       " combinations are all filtered out by include/exclude"));
    return diagnostics.ToStatus();
  }
  return jobs;
}

}  // namespace llmq
