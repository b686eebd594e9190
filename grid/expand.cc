// ForEachGridJob / ExpandGrid: a parsed grid and the identities of its files -> job specs
// with canonical keys, in a deterministic order.
#include "grid/expand.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/version.h"
#include "grid/grid.h"
#include "grid/keys.h"
#include "grid/schema.h"
#include "grid/values.h"

namespace llmq {
namespace {

using Params = std::map<std::string, std::string>;

struct EntryVariant {
  const GridEntrySchema* schema;
  Params params;
  bool scan_layers = false;  // a method's `scan: layers`: one job per block of each model
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
    // `scan` is a directive of the expansion, not a parameter of the job it makes: a
    // scanned job is the same job as one written with its `block`.
    bool scan_layers = false;
    if (auto scan = params->find("scan"); scan != params->end()) {
      scan_layers = scan->second == "layers";
      params->erase(scan);
      if (scan_layers && params->at("block") != "-1") {
        diagnostics->Error(entry.where,
                           absl::StrCat(section, schema.name, ": scan: layers sets block "
                                        "itself (one job per block); remove block: ",
                                        params->at("block")));
        continue;
      }
    }
    out->push_back({&schema, *std::move(params), scan_layers});
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

// The first 128 bits of a job key (64 hex digits): what the expansion remembers of each
// job to drop duplicates, 16 bytes instead of a 64-character string. Two different jobs
// of one grid would share them with probability about n^2 / 2^129 (10^-25 for 10^7 jobs).
absl::uint128 KeyPrefix(absl::string_view hex) {
  uint64_t halves[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    const uint64_t digit = c <= '9' ? c - '0' : c - 'a' + 10;
    halves[i / 16] = halves[i / 16] << 4 | digit;
  }
  return absl::MakeUint128(halves[0], halves[1]);
}

// Whether any filter matches `job`, marking each one that does as used (a filter that
// matches no combination of the grid is an error).
bool MatchAndMark(const std::vector<GridFilter>& filters, const v1::JobSpec& job,
                  std::vector<bool>* used) {
  bool any = false;
  for (size_t i = 0; i < filters.size(); ++i) {
    if (FilterMatches(filters[i], job)) {
      (*used)[i] = true;
      any = true;
    }
  }
  return any;
}

void ReportUnusedFilters(const std::vector<GridFilter>& filters, const std::vector<bool>& used,
                         absl::string_view section, GridDiagnostics* diagnostics) {
  for (size_t i = 0; i < filters.size(); ++i) {
    if (used[i]) continue;
    diagnostics->Error(filters[i].where, absl::StrCat(section, ": this entry matches no job of "
                                                               "the grid (a misspelt value?)"));
  }
}

}  // namespace

absl::StatusOr<int64_t> ForEachGridJob(const Grid& grid, const PathIdentities& identities,
                                       GridJobSink sink) {
  GridDiagnostics diagnostics(grid.file);
  std::vector<v1::ModelSpec> models;
  std::vector<const GridModel*> model_sources;  // parallel to `models`
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
      model_sources.push_back(&model);
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

  // What does not change in the inner loops is made once: the task variants as TaskSpecs
  // (swapped into `job`, not copied) with their part of the job record, and per model,
  // method and calibration the head of the record and the quant_key. A job then costs the
  // filters, one SHA-256 and 16 bytes in `seen`.
  std::vector<v1::TaskSpec> task_specs;
  std::vector<std::string> task_records;
  for (const EntryVariant& task : tasks) {
    v1::TaskSpec spec;
    spec.set_name(task.schema->name);
    spec.mutable_params()->insert(task.params.begin(), task.params.end());
    LLMQ_ASSIGN_OR_RETURN(std::string record, CanonicalTaskRecord(spec, identities));
    task_specs.push_back(std::move(spec));
    task_records.push_back(std::move(record));
  }
  std::vector<std::string> repeat_records;
  for (int repeat = 0; repeat < grid.repeats; ++repeat) {
    repeat_records.push_back(CanonicalRepeatRecord(repeat));
  }

  v1::JobSpec job;  // one spec, each loop setting its part
  job.set_sweep_name(grid.name);
  job.set_max_attempts(grid.max_attempts);
  job.set_timeout_seconds(grid.timeout_seconds);
  job.set_priority(grid.priority);
  job.mutable_resources()->set_device(grid.device);
  job.mutable_resources()->set_memory_bytes(grid.memory_bytes);
  job.set_result_version(kResultVersion);

  std::vector<bool> include_used(grid.include.size()), exclude_used(grid.exclude.size());
  absl::flat_hash_set<absl::uint128> seen;
  int64_t combinations = 0, jobs = 0;
  std::string record;
  // The jobs of one task variant, with its spec in `job` and its record part at `t`.
  auto each_repeat = [&](size_t t, absl::string_view head) -> absl::Status {
    for (int repeat = 0; repeat < grid.repeats; ++repeat) {
      job.set_repeat(repeat);
      ++combinations;
      const bool included =
          MatchAndMark(grid.include, job, &include_used) || grid.include.empty();
      const bool excluded = MatchAndMark(grid.exclude, job, &exclude_used);
      if (!included || excluded) continue;
      record.assign(head.data(), head.size());
      absl::StrAppend(&record, task_records[t], repeat_records[repeat]);
      std::string job_key = Sha256Hex(record);
      if (!seen.insert(KeyPrefix(job_key)).second) continue;  // a duplicate keeps its first place
      job.set_job_key(std::move(job_key));
      LLMQ_RETURN_IF_ERROR(sink(job));
      ++jobs;
    }
    return absl::OkStatus();
  };
  const std::vector<EntryVariant> no_calibration = {{nullptr, {}}};
  // The jobs of one method variant, its parameters in `job`.
  auto each_calibration = [&](const EntryVariant& method) -> absl::Status {
    for (const EntryVariant& calibration :
         method.schema->calibrates ? calibrations : no_calibration) {
      if (calibration.schema != nullptr) {
        *job.mutable_calibration() = MakeCalibration(calibration.params);
      } else {
        job.clear_calibration();
      }
      LLMQ_ASSIGN_OR_RETURN(const std::string head, CanonicalJobRecordHead(job, identities));
      LLMQ_ASSIGN_OR_RETURN(std::string quant_key, ComputeQuantKey(job, identities));
      job.set_quant_key(std::move(quant_key));
      for (size_t t = 0; t < task_specs.size(); ++t) {
        job.mutable_task()->Swap(&task_specs[t]);
        const absl::Status done = each_repeat(t, head);
        job.mutable_task()->Swap(&task_specs[t]);  // back, for the next method
        LLMQ_RETURN_IF_ERROR(done);
      }
    }
    return absl::OkStatus();
  };
  for (size_t m = 0; m < models.size(); ++m) {
    *job.mutable_model() = models[m];
    for (const EntryVariant& method : methods) {
      job.mutable_method()->set_name(method.schema->name);
      job.mutable_method()->mutable_params()->clear();
      job.mutable_method()->mutable_params()->insert(method.params.begin(), method.params.end());
      if (!method.scan_layers) {
        LLMQ_RETURN_IF_ERROR(each_calibration(method));
        continue;
      }
      const GridModel& source = *model_sources[m];
      if (source.blocks <= 0) {
        diagnostics.Error(source.where,
                          absl::StrCat("models: ", source.alias, ": scan: layers needs the "
                                       "model's block count, which was not read "
                                       "(ReadGridModelBlocks)"));
        return diagnostics.ToStatus();
      }
      for (int block = 0; block < source.blocks; ++block) {
        (*job.mutable_method()->mutable_params())["block"] = absl::StrCat(block);
        LLMQ_RETURN_IF_ERROR(each_calibration(method));
      }
    }
  }
  ReportUnusedFilters(grid.include, include_used, "include", &diagnostics);
  ReportUnusedFilters(grid.exclude, exclude_used, "exclude", &diagnostics);
  LLMQ_RETURN_IF_ERROR(diagnostics.ToStatus());
  if (jobs == 0) {
    diagnostics.Error({}, absl::StrCat("the grid has no jobs: its ", combinations,
                                       " combinations are all filtered out by include/exclude"));
    return diagnostics.ToStatus();
  }
  return jobs;
}

absl::StatusOr<std::vector<v1::JobSpec>> ExpandGrid(const Grid& grid,
                                                    const PathIdentities& identities) {
  std::vector<v1::JobSpec> jobs;
  LLMQ_RETURN_IF_ERROR(ForEachGridJob(grid, identities, [&](const v1::JobSpec& job) {
                         jobs.push_back(job);
                         return absl::OkStatus();
                       }).status());
  return jobs;
}

}  // namespace llmq

namespace llmq {
namespace {

// An axis as a zip member names it, and where it is.
struct AxisRef {
  GridEntry* entry = nullptr;
  size_t axis = 0;
  std::string written;
};

std::vector<std::string> EntryNames(const std::vector<GridEntry>& entries) {
  std::vector<std::string> names;
  for (const GridEntry& entry : entries) names.push_back(entry.name);
  return names;
}

// Resolves "methods.gptq.bits", "tasks.ppl.context" or "calibration.samples".
bool ResolveAxis(const std::string& written, GridLocation where, Grid* grid,
                 GridDiagnostics* diagnostics, AxisRef* ref) {
  const std::vector<std::string> parts = absl::StrSplit(written, '.');
  const std::string context = absl::StrCat("zip: ", written);
  GridEntry* entry = nullptr;
  std::string param;
  if (parts.size() == 2 && parts[0] == "calibration") {
    entry = &grid->calibration;
    param = parts[1];
  } else if (parts.size() == 3 && (parts[0] == "methods" || parts[0] == "tasks")) {
    std::vector<GridEntry>& entries = parts[0] == "methods" ? grid->methods : grid->tasks;
    std::vector<GridEntry*> matches;
    for (GridEntry& candidate : entries) {
      if (candidate.name == parts[1]) matches.push_back(&candidate);
    }
    if (matches.empty()) {
      diagnostics->Error(where, absl::StrCat(context, ": no ", parts[1], " in ", parts[0],
                                             DidYouMean(parts[1], EntryNames(entries))));
      return false;
    }
    if (matches.size() > 1) {
      diagnostics->Error(where, absl::StrCat(context, ": ambiguous, ", parts[1], " appears ",
                                             matches.size(), " times in ", parts[0],
                                             " (lines ", matches[0]->where.line, " and ",
                                             matches[1]->where.line, ")"));
      return false;
    }
    entry = matches[0];
    param = parts[2];
  } else {
    diagnostics->Error(where, absl::StrCat(context, ": expected methods.<method>.<parameter>, "
                                           "tasks.<task>.<parameter> or calibration.<parameter>"));
    return false;
  }
  std::vector<std::string> written_params;
  for (size_t i = 0; i < entry->axes.size(); ++i) {
    written_params.push_back(entry->axes[i].param);
    if (entry->axes[i].param == param) {
      *ref = {entry, i, written};
      return true;
    }
  }
  diagnostics->Error(where, absl::StrCat(context, ": ", entry->name, " has no list \"", param,
                                         "\" to zip", DidYouMean(param, written_params)));
  return false;
}

}  // namespace

bool ParseZip(const YamlField& field, Grid* grid, GridDiagnostics* diagnostics) {
  if (field.value.IsNull()) return true;  // "zip:" with nothing = no zips
  if (!field.value.IsSequence()) {
    diagnostics->Error(field.value_where,
                       absl::StrCat("zip: expected a list of lists like "
                                    "[[methods.gptq.bits, methods.gptq.group_size]], got ",
                                    DescribeNode(field.value)));
    return false;
  }
  bool ok = true;
  std::map<std::pair<const GridEntry*, size_t>, GridLocation> zipped;
  for (const YAML::Node& group : field.value) {
    const GridLocation group_where = LocationOf(group);
    if (!group.IsSequence() || group.size() < 2) {
      diagnostics->Error(group_where, absl::StrCat("zip: expected a list of at least two axes "
                                                   "like [methods.gptq.bits, "
                                                   "methods.gptq.group_size], got ",
                                                   DescribeNode(group)));
      ok = false;
      continue;
    }
    std::vector<AxisRef> refs;
    bool group_ok = true;
    for (const YAML::Node& item : group) {
      std::string written;
      AxisRef ref;
      if (!ReadScalar(item, LocationOf(item), "zip", "an axis name like methods.gptq.bits",
                      diagnostics, &written) ||
          !ResolveAxis(written, LocationOf(item), grid, diagnostics, &ref)) {
        group_ok = false;
        continue;
      }
      const auto [previous, inserted] =
          zipped.emplace(std::make_pair(ref.entry, ref.axis), LocationOf(item));
      if (!inserted) {
        diagnostics->Error(LocationOf(item),
                           absl::StrCat("zip: ", written, " is already zipped at line ",
                                        previous->second.line));
        group_ok = false;
        continue;
      }
      if (!refs.empty() && refs[0].entry != ref.entry) {
        diagnostics->Error(LocationOf(item),
                           absl::StrCat("zip: ", written, " and ", refs[0].written,
                                        " belong to different entries; zip pairs the lists of "
                                        "one method, task or calibration"));
        group_ok = false;
        continue;
      }
      refs.push_back(ref);
    }
    if (!group_ok) {
      ok = false;
      continue;
    }
    const size_t length = refs[0].entry->axes[refs[0].axis].values.size();
    std::vector<std::string> lengths;
    bool equal = true;
    for (const AxisRef& ref : refs) {
      const size_t n = ref.entry->axes[ref.axis].values.size();
      equal = equal && n == length;
      lengths.push_back(absl::StrCat(ref.written, " has ", n));
    }
    if (!equal) {
      diagnostics->Error(group_where, absl::StrCat("zip: lists of unequal length (",
                                                   absl::StrJoin(lengths, ", "),
                                                   "); zipped lists pair values one to one"));
      ok = false;
      continue;
    }
    std::vector<size_t> axes;
    for (const AxisRef& ref : refs) axes.push_back(ref.axis);
    refs[0].entry->zips.push_back(std::move(axes));
  }
  return ok;
}

namespace {

// The entry's dimensions in file order: each zip group is one, at its first member's place;
// other axes are one each.
std::vector<std::vector<size_t>> EntryDimensions(const GridEntry& entry) {
  std::vector<std::vector<size_t>> dimensions;
  std::vector<bool> placed(entry.axes.size(), false);
  for (size_t i = 0; i < entry.axes.size(); ++i) {
    if (placed[i]) continue;
    std::vector<size_t> dimension = {i};
    for (const std::vector<size_t>& zip : entry.zips) {
      if (std::find(zip.begin(), zip.end(), i) != zip.end()) dimension = zip;
    }
    for (size_t axis : dimension) placed[axis] = true;
    dimensions.push_back(std::move(dimension));
  }
  return dimensions;
}

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// Saturating, so that a grid of twenty 1000-value axes counts as "more than any limit"
// rather than overflowing into a small number.
int64_t SaturatingMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kNoLimit / b ? kNoLimit : a * b;
}
int64_t SaturatingAdd(int64_t a, int64_t b) { return a > kNoLimit - b ? kNoLimit : a + b; }

int64_t CountVariants(const GridEntry& entry) {
  int64_t count = 1;
  for (const std::vector<size_t>& dimension : EntryDimensions(entry)) {
    count = SaturatingMul(count, static_cast<int64_t>(entry.axes[dimension.front()].values.size()));
  }
  return count;
}

// A factor of the cross product, for the message that refuses a grid: its size, what it is
// ("methods: rtn: bits: 7 values"), where.
struct GridFactor {
  int64_t size = 0;
  std::string what;
  GridLocation where;
};

void AddEntryFactors(const GridEntry& entry, absl::string_view section,
                     std::vector<GridFactor>* out) {
  for (const std::vector<size_t>& dimension : EntryDimensions(entry)) {
    std::vector<std::string> params;
    for (size_t axis : dimension) params.push_back(entry.axes[axis].param);
    const GridAxis& first = entry.axes[dimension.front()];
    out->push_back({static_cast<int64_t>(first.values.size()),
                    absl::StrCat(section, entry.name, ": ", absl::StrJoin(params, "+"),
                                 dimension.size() > 1 ? " (zipped)" : "", ": ",
                                 first.values.size(), " values"),
                    first.where});
  }
}

}  // namespace

int64_t CountGridJobs(const Grid& grid) {
  int64_t models = 0;
  for (const GridModel& model : grid.models) {
    models = SaturatingAdd(models, static_cast<int64_t>(model.dtypes.size()));
  }
  const int64_t calibrations = CountVariants(grid.calibration);
  int64_t blocks = 1;  // the most of any model: the scan of each model counts it
  for (const GridModel& model : grid.models) blocks = std::max<int64_t>(blocks, model.blocks);
  int64_t methods = 0;
  for (const GridEntry& entry : grid.methods) {
    const GridEntrySchema* schema = FindGridMethod(entry.name);
    int64_t variants = CountVariants(entry);
    if (EntryScansLayers(entry)) variants = SaturatingMul(variants, blocks);
    if (schema != nullptr && schema->calibrates) variants = SaturatingMul(variants, calibrations);
    methods = SaturatingAdd(methods, variants);
  }
  int64_t tasks = 0;
  for (const GridEntry& entry : grid.tasks) tasks = SaturatingAdd(tasks, CountVariants(entry));
  return SaturatingMul(SaturatingMul(SaturatingMul(models, methods), tasks), grid.repeats);
}

absl::Status CheckGridJobLimit(const Grid& grid, int64_t max_jobs, absl::string_view limit_name) {
  const int64_t count = CountGridJobs(grid);
  if (count <= max_jobs) return absl::OkStatus();
  std::vector<GridFactor> factors;
  auto entries = [&](size_t n, absl::string_view section, GridLocation where) {
    factors.push_back({static_cast<int64_t>(n), absl::StrCat(section, ": ", n, " entries"), where});
  };
  if (!grid.models.empty()) entries(grid.models.size(), "models", grid.models[0].where);
  for (const GridModel& model : grid.models) {
    factors.push_back({static_cast<int64_t>(model.dtypes.size()),
                       absl::StrCat("models: ", model.alias, ": dtype: ", model.dtypes.size(),
                                    " values"),
                       model.where});
  }
  if (!grid.methods.empty()) entries(grid.methods.size(), "methods", grid.methods[0].where);
  bool any_calibrates = false;
  for (const GridEntry& entry : grid.methods) {
    AddEntryFactors(entry, "methods: ", &factors);
    const GridEntrySchema* schema = FindGridMethod(entry.name);
    any_calibrates = any_calibrates || (schema != nullptr && schema->calibrates);
  }
  if (any_calibrates) AddEntryFactors(grid.calibration, "", &factors);
  if (!grid.tasks.empty()) entries(grid.tasks.size(), "tasks", grid.tasks[0].where);
  for (const GridEntry& entry : grid.tasks) AddEntryFactors(entry, "tasks: ", &factors);
  factors.push_back({grid.repeats, absl::StrCat("repeats: ", grid.repeats), {}});
  std::stable_sort(factors.begin(), factors.end(),
                   [](const GridFactor& a, const GridFactor& b) { return a.size > b.size; });
  constexpr size_t kLargest = 3;
  std::vector<std::string> lines = {FormatGridError(
      grid.file, {},
      absl::StrCat(count == kNoLimit ? "more than " : "", count,
                   " jobs (the cross product of the axes, before include/exclude), more than ",
                   limit_name, "=", max_jobs,
                   "; narrow the largest axes or raise the limit. The largest axes:"))};
  for (size_t i = 0; i < factors.size() && lines.size() <= kLargest; ++i) {
    if (factors[i].size < 2) break;
    lines.push_back(FormatGridError(grid.file, factors[i].where, factors[i].what));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

std::vector<std::map<std::string, std::string>> EntryVariants(const GridEntry& entry) {
  const std::vector<std::vector<size_t>> dimensions = EntryDimensions(entry);
  std::vector<std::map<std::string, std::string>> variants = {{}};
  // Crossing from the last dimension to the first makes the first vary slowest.
  for (auto dimension = dimensions.rbegin(); dimension != dimensions.rend(); ++dimension) {
    const size_t length = entry.axes[dimension->front()].values.size();
    std::vector<std::map<std::string, std::string>> crossed;
    for (size_t k = 0; k < length; ++k) {
      for (const auto& variant : variants) {
        std::map<std::string, std::string> extended = variant;
        for (size_t axis : *dimension) {
          extended[entry.axes[axis].param] = entry.axes[axis].values[k];
        }
        crossed.push_back(std::move(extended));
      }
    }
    variants = std::move(crossed);
  }
  return variants;
}

}  // namespace llmq

namespace llmq {
namespace {

constexpr absl::string_view kMethodPrefix = "method.";
constexpr absl::string_view kTaskPrefix = "task.";
constexpr absl::string_view kCalibrationPrefix = "calibration.";

const GridParamSchema* FindInEntries(const std::vector<GridEntrySchema>& entries,
                                     absl::string_view param) {
  for (const GridEntrySchema& entry : entries) {
    if (const GridParamSchema* found = entry.FindParam(param)) return found;
  }
  return nullptr;
}

// The schema of the parameter a condition key names; nullptr when none.
const GridParamSchema* ConditionParam(absl::string_view key) {
  if (absl::ConsumePrefix(&key, kMethodPrefix)) return FindInEntries(GridMethodSchemas(), key);
  if (absl::ConsumePrefix(&key, kTaskPrefix)) return FindInEntries(GridTaskSchemas(), key);
  if (absl::ConsumePrefix(&key, kCalibrationPrefix)) {
    return GridCalibrationSchema().FindParam(key);
  }
  if (const GridParamSchema* found = FindInEntries(GridMethodSchemas(), key)) return found;
  return FindInEntries(GridTaskSchemas(), key);
}

std::vector<std::string> ConditionKeys() {
  std::vector<std::string> keys = {"model", "dtype", "method", "task", "repeat"};
  for (const auto* list : {&GridMethodSchemas(), &GridTaskSchemas()}) {
    for (const GridEntrySchema& entry : *list) {
      for (const GridParamSchema& param : entry.params) {
        if (std::find(keys.begin(), keys.end(), param.name) == keys.end()) {
          keys.push_back(param.name);
        }
      }
    }
  }
  for (const GridParamSchema& param : GridCalibrationSchema().params) {
    keys.push_back(absl::StrCat(kCalibrationPrefix, param.name));
  }
  return keys;
}

// The canonical form of one condition value, or an error message.
absl::StatusOr<std::string> ConditionValue(const std::string& key, const std::string& text,
                                           const Grid& grid) {
  if (key == "model") {
    std::vector<std::string> aliases;
    for (const GridModel& model : grid.models) {
      if (model.alias == text) return text;
      aliases.push_back(model.alias);
    }
    return absl::InvalidArgumentError(absl::StrCat("model: no model named \"", text, "\"",
                                                   DidYouMean(text, aliases)));
  }
  if (key == "dtype") return CanonicalDtype(text);
  if (key == "method" || key == "task") {
    const std::vector<std::string> names = key == "method" ? GridMethodNames() : GridTaskNames();
    if (std::find(names.begin(), names.end(), text) != names.end()) return text;
    return absl::InvalidArgumentError(absl::StrCat(key, ": unknown ", key, " \"", text, "\"",
                                                   DidYouMean(text, names)));
  }
  if (key == "repeat") {
    absl::StatusOr<int64_t> repeat = ParseGridInt(text);
    if (!repeat.ok() || *repeat < 0 || *repeat >= grid.repeats) {
      return absl::InvalidArgumentError(absl::StrCat(
          "repeat: expected a repeat index in 0..", grid.repeats - 1, ", got \"", text, "\""));
    }
    return absl::StrCat(*repeat);
  }
  return CanonicalParamValue(*ConditionParam(key), text, grid.file);
}

bool ParseFilter(const YAML::Node& node, absl::string_view section, const Grid& grid,
                 GridDiagnostics* diagnostics, GridFilter* filter) {
  filter->where = LocationOf(node);
  if (!node.IsMap() || node.size() == 0) {
    diagnostics->Error(filter->where,
                       absl::StrCat(section, ": expected a non-empty map like "
                                             "{method: gptq, bits: 3}, got ",
                                    DescribeNode(node)));
    return false;
  }
  bool ok = true;
  for (const YamlField& field : ReadFields(node, diagnostics)) {
    const bool fixed = field.key == "model" || field.key == "dtype" || field.key == "method" ||
                       field.key == "task" || field.key == "repeat";
    if (!fixed && ConditionParam(field.key) == nullptr) {
      ReportUnknownKey(field, section, ConditionKeys(),
                       "filters name model, dtype, method, task, repeat or a parameter",
                       diagnostics);
      ok = false;
      continue;
    }
    std::vector<YamlValue> values;
    if (!ReadValues(field, absl::StrCat(section, ": ", field.key), diagnostics, &values)) {
      ok = false;
      continue;
    }
    std::vector<std::string> canonical_values;
    for (const YamlValue& value : values) {
      absl::StatusOr<std::string> canonical = ConditionValue(field.key, value.text, grid);
      if (!canonical.ok()) {
        diagnostics->Error(value.where,
                           absl::StrCat(section, ": ", canonical.status().message()));
        ok = false;
        continue;
      }
      canonical_values.push_back(*std::move(canonical));
    }
    filter->conditions.emplace_back(field.key, std::move(canonical_values));
  }
  return ok;
}

// The job's value for a condition key; false when the job has no such value.
bool JobValue(const v1::JobSpec& job, absl::string_view key, std::string* value) {
  if (key == "model") *value = job.model().alias();
  else if (key == "dtype") *value = job.model().dtype();
  else if (key == "method") *value = job.method().name();
  else if (key == "task") *value = job.task().name();
  else if (key == "repeat") *value = absl::StrCat(job.repeat());
  else if (absl::ConsumePrefix(&key, kCalibrationPrefix)) {
    if (!job.has_calibration()) return false;
    const v1::CalibrationSpec& c = job.calibration();
    if (key == "dataset") *value = c.dataset();
    else if (key == "samples") *value = absl::StrCat(c.samples());
    else if (key == "seq_len") *value = absl::StrCat(c.seq_len());
    else if (key == "seed") *value = absl::StrCat(c.seed());
    else if (key == "mode") *value = c.mode();
    else return false;
  } else {
    const bool method_only = absl::ConsumePrefix(&key, kMethodPrefix);
    const bool task_only = !method_only && absl::ConsumePrefix(&key, kTaskPrefix);
    const std::string param(key);
    if (!task_only && job.method().params().count(param) != 0) {
      *value = job.method().params().at(param);
    } else if (!method_only && job.task().params().count(param) != 0) {
      *value = job.task().params().at(param);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseFilters(const YamlField& field, const Grid& grid, GridDiagnostics* diagnostics,
                  std::vector<GridFilter>* filters) {
  if (field.value.IsNull()) return true;
  if (!field.value.IsSequence()) {
    diagnostics->Error(field.value_where,
                       absl::StrCat(field.key, ": expected a list of maps like "
                                               "- {method: gptq, bits: 3}, got ",
                                    DescribeNode(field.value)));
    return false;
  }
  bool ok = true;
  for (const YAML::Node& node : field.value) {
    GridFilter filter;
    if (ParseFilter(node, field.key, grid, diagnostics, &filter)) {
      filters->push_back(std::move(filter));
    } else {
      ok = false;
    }
  }
  return ok;
}

bool FilterMatches(const GridFilter& filter, const v1::JobSpec& job) {
  for (const auto& [key, values] : filter.conditions) {
    std::string value;
    if (!JobValue(job, key, &value)) return false;
    if (std::find(values.begin(), values.end(), value) == values.end()) return false;
  }
  return true;
}

}  // namespace llmq

// ParseSingleJob: `llmq-worker run-job job.yaml` reads the grid format and insists that it
// describes exactly one job; FormatJobAsGrid writes such a file.
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

namespace {

absl::StatusOr<v1::JobSpec> SingleJob(const Grid& grid, absl::string_view file,
                                      const PathIdentities& identities) {
  // Counted, not collected: a grid given by mistake may have millions of jobs.
  v1::JobSpec first;
  LLMQ_ASSIGN_OR_RETURN(const int64_t jobs,
                        ForEachGridJob(grid, identities, [&](const v1::JobSpec& job) {
                          if (!first.has_model()) first = job;
                          return absl::OkStatus();
                        }));
  if (jobs != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": a job file describes exactly one job; this one describes ", jobs,
        " (", DescribeSeveralValues(grid), "); give each axis one value, or submit it as a "
        "grid with llmq-coord submit"));
  }
  return first;
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file,
                                           const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const Grid grid, ParseGrid(yaml, file));
  return SingleJob(grid, file, identities);
}

absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file) {
  LLMQ_ASSIGN_OR_RETURN(Grid grid, ParseGrid(yaml, file));
  LLMQ_RETURN_IF_ERROR(ReadGridModelBlocks(&grid));
  LLMQ_ASSIGN_OR_RETURN(const PathIdentities identities, ComputeGridIdentities(grid));
  return SingleJob(grid, file, identities);
}

}  // namespace llmq
