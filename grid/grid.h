// The grid file: what a researcher writes to describe a sweep, and its expansion into job
// specs. Both `llmq-coord submit grid.yaml` (a whole grid) and `llmq-worker run-job
// job.yaml` (one job: the same format with one value per axis) read it. The format is
// documented in README.md ("The grid file"); the known methods and tasks in schema.h.
//
//   ParseGrid / LoadGridFile  YAML -> Grid (checked, canonical values, resolved paths)
//   ComputeGridIdentities     Grid -> identities of its model and dataset files (client side)
//   ReadGridModelBlocks       the models' block counts, for `scan: layers` (client side)
//   CountGridJobs             Grid -> how many jobs it can have, from the axes' sizes alone
//   CheckGridJobLimit         refuses a grid above a job limit (before anything is expanded)
//   ExpandGrid                Grid + identities -> JobSpecs with canonical keys, in a
//                             deterministic order
//   ForEachGridJob            the same, one job at a time, without holding them
//   ParseSingleJob            YAML -> the one JobSpec it describes (run-job)
//   FormatJobAsGrid           JobSpec -> the YAML of that one job
//
// Errors are InvalidArgument, one line per problem, `file:line:column: what was expected`.
// Nothing here throws; nothing but LoadGridFile and the identity helpers touches files.
#ifndef LLMQ_GRID_GRID_H_
#define LLMQ_GRID_GRID_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grid/yaml.h"
#include "grid/keys.h"
#include "proto/llmq.pb.h"

namespace llmq {

// A parameter and the values it takes in the sweep (a scalar in the file is an axis of one
// value). Values are canonical strings (values.h); paths are resolved.
struct GridAxis {
  std::string param;
  std::vector<std::string> values;
  GridLocation where;  // the parameter's key in the file
};

// A method, a task or the calibration block as written: its axes in the file's order.
// Parameters not written take their defaults at expansion.
struct GridEntry {
  std::string name;  // "gptq", "ppl", "calibration"
  std::vector<GridAxis> axes;
  std::vector<std::vector<size_t>> zips;  // indexes into `axes` that advance together
  GridLocation where;
};

struct GridModel {
  std::string alias;                // shown in tables; default: the path's last component
  std::string path;                 // resolved against the grid file's directory
  std::vector<std::string> dtypes;  // float32 | bfloat16 | float16; several = an axis
  int blocks = 0;  // transformer blocks (ReadGridModelBlocks); 0 = not read
  GridLocation where;
};

// One include or exclude entry. It matches a job when every condition does; a condition
// holds when the job's value is one of `values` (canonical). Condition keys: model (the
// alias), dtype, method, task, repeat, a parameter name (the method's, else the task's),
// or a qualified method.<p>, task.<p>, calibration.<p>.
struct GridFilter {
  std::vector<std::pair<std::string, std::vector<std::string>>> conditions;
  GridLocation where;
};

struct Grid {
  std::string file;  // as given to ParseGrid: error messages and path resolution use it
  std::string name;  // the sweep's name; default: the file name without extension
  std::vector<GridModel> models;
  std::vector<GridEntry> methods;  // default: [none]
  GridEntry calibration;           // used by methods that calibrate
  std::vector<GridEntry> tasks;
  std::vector<GridFilter> include;  // empty: every job
  std::vector<GridFilter> exclude;
  int repeats = 1;
  int max_attempts = 3;
  int64_t timeout_seconds = 0;  // per attempt; 0 = no limit
  int priority = 0;             // higher runs first
  std::string device = "any";   // any | cpu | cuda
  int64_t memory_bytes = 0;     // 0 = unspecified
};

// Parses and checks a grid. `file` names the text in errors, and relative paths in it
// resolve against file's directory: pass an absolute `file` when the result travels to
// another process (the coordinator, a worker) that may run elsewhere.
absl::StatusOr<Grid> ParseGrid(absl::string_view yaml, absl::string_view file);

// Reads `path` and parses it under its absolute name, so every path in the grid is absolute.
absl::StatusOr<Grid> LoadGridFile(const std::string& path);

// The identities of every model and every dataset file the grid names (see
// keys.h), keyed by resolved path: what the client sends with a submission
// (SubmitSweepRequest.model_identity holds both kinds).
absl::StatusOr<PathIdentities> ComputeGridIdentities(const Grid& grid);

// Whether a method entry has `scan: layers` (among its values), or any of the grid's
// does: its jobs depend on the models' block counts.
bool EntryScansLayers(const GridEntry& entry);
bool GridScansLayers(const Grid& grid);

// Sets GridModel::blocks of every model from its files (ReadModelBlockCount) when the grid
// scans layers; errors at the model's place. Client side, like ComputeGridIdentities: the
// coordinator receives the counts (SubmitSweepRequest.model_blocks).
absl::Status ReadGridModelBlocks(Grid* grid);

// The limit of `llmq-coord submit --max_jobs` and `llmq-coord serve --max_jobs`.
inline constexpr int64_t kDefaultMaxGridJobs = 1000000;

// The size of the grid's cross product, models x dtypes x method variants x calibration
// variants x task variants x repeats (zip applied; a layer scan counts the most blocks
// of any model, or 1 when they are not read), computed from the axes' sizes without
// expanding anything. An upper bound of ExpandGrid's count: include/exclude and duplicates
// can only take jobs away. Saturates at INT64_MAX.
int64_t CountGridJobs(const Grid& grid);

// InvalidArgument when CountGridJobs(grid) exceeds `max_jobs`, naming the count, the limit
// (`limit_name`, e.g. "--max_jobs") and the grid's largest axes at their places, one per
// line. The limit applies to the cross product, not to what the filters leave, because
// expansion visits every combination (filters are evaluated on each) and is known before
// any of that work: a grid that filters 7,000,000 combinations down to ten still costs
// 7,000,000 evaluations.
absl::Status CheckGridJobLimit(const Grid& grid, int64_t max_jobs, absl::string_view limit_name);

// The grid's jobs: models x dtypes x method variants x calibration variants (methods that
// calibrate) x task variants x repeats, zip applied, filtered (include, then exclude),
// with defaults filled in and canonical keys; duplicates (same job_key) keep their first
// place. The order is deterministic: models outermost, repeats innermost, entries and the
// values of each axis in file order. Errors: a path without identity, a filter that matches
// no job, a grid with no jobs.
absl::StatusOr<std::vector<v1::JobSpec>> ExpandGrid(const Grid& grid,
                                                    const PathIdentities& identities);

// ExpandGrid without holding the jobs: calls `sink` with each job, in ExpandGrid's order,
// and returns how many there were. The spec passed is reused between calls (copy what you
// keep), so memory does not grow with the jobs but for 16 bytes each to drop duplicates;
// what does is the entries' variants, each made once. Errors in the grid's values come
// before the first job; a filter that matches no job and a grid with no jobs are known
// only after the last, so they come after `sink` has seen every job: a caller that acts
// on jobs must be able to undo that (the coordinator inserts them in one transaction).
// An error from `sink` stops the expansion and is returned.
using GridJobSink = absl::FunctionRef<absl::Status(const v1::JobSpec&)>;
absl::StatusOr<int64_t> ForEachGridJob(const Grid& grid, const PathIdentities& identities,
                                       GridJobSink sink);

// `llmq-worker run-job`: the one job `yaml` describes; an error that lists the axes with
// several values when it describes more. The first form computes the identities of the
// files it names (ComputeGridIdentities).
absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file);
absl::StatusOr<v1::JobSpec> ParseSingleJob(absl::string_view yaml, absl::string_view file,
                                           const PathIdentities& identities);

// The job file that ParseSingleJob reads back as `job`, with the same key: what a worker
// can hand to `run-job`, and how a user reruns one cell of a sweep. Every parameter is
// written out; paths are written as the spec holds them, so they read back the same when
// they are absolute (LoadGridFile makes them so) or the file is parsed under a name in the
// current directory.
std::string FormatJobAsGrid(const v1::JobSpec& job);

}  // namespace llmq

#endif  // LLMQ_GRID_GRID_H_
