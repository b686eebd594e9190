// Internal to the grid library: `zip:` (pairing axes of one entry instead of crossing them)
// and the enumeration of an entry's variants from its axes.
#ifndef LLMQ_GRID_EXPAND_H_
#define LLMQ_GRID_EXPAND_H_

#include <map>
#include <string>
#include <vector>

#include "grid/grid.h"
#include "grid/yaml.h"
#include "proto/llmq.pb.h"

namespace llmq {

// Parses `zip: [[methods.gptq.bits, methods.gptq.group_size], ...]` into the zips of the
// grid's entries. Each group names axes of one entry (methods.<name>.<param>,
// tasks.<name>.<param>, calibration.<param>) that are written as lists of equal length.
bool ParseZip(const YamlField& field, Grid* grid, GridDiagnostics* diagnostics);

// Every combination of the entry's axes (parameter -> canonical value), in a fixed order:
// the first axis written varies slowest; a zip group advances as one axis, at the place of
// its first member. An entry without axes has one variant with no parameters.
std::vector<std::map<std::string, std::string>> EntryVariants(const GridEntry& entry);

}  // namespace llmq

// Internal to the grid library: `include:` and `exclude:` entries, parsed against the
// schema (values become canonical, so `{bits: 4}` and `{bits: "04"}` are one filter) and
// matched against expanded jobs.
namespace llmq {

// Parses a list of filter maps. Needs grid.models and grid.repeats (model aliases and repeat
// indexes are checked), so it runs after them.
bool ParseFilters(const YamlField& field, const Grid& grid, GridDiagnostics* diagnostics,
                  std::vector<GridFilter>* filters);

// Whether every condition of `filter` holds for `job` (a job without the parameter a
// condition names does not match it: {bits: 3} never matches method none).
bool FilterMatches(const GridFilter& filter, const v1::JobSpec& job);

}  // namespace llmq

#endif  // LLMQ_GRID_EXPAND_H_
