// Internal to the grid library: `include:` and `exclude:` entries, parsed against the
// schema (values become canonical, so `{bits: 4}` and `{bits: "04"}` are one filter) and
// matched against expanded jobs.
#ifndef LLMQ_PROTO_GRID_FILTERS_H_
#define LLMQ_PROTO_GRID_FILTERS_H_

#include <vector>

#include "proto/grid.h"
#include "proto/grid_diagnostics.h"
#include "proto/grid_yaml.h"
#include "proto/llmq.pb.h"

namespace llmq {

// Parses a list of filter maps. Needs grid.models and grid.repeats (model aliases and repeat
// indexes are checked), so it runs after them.
bool ParseFilters(const YamlField& field, const Grid& grid, GridDiagnostics* diagnostics,
                  std::vector<GridFilter>* filters);

// Whether every condition of `filter` holds for `job` (a job without the parameter a
// condition names does not match it: {bits: 3} never matches method none).
bool FilterMatches(const GridFilter& filter, const v1::JobSpec& job);

}  // namespace llmq

#endif  // LLMQ_PROTO_GRID_FILTERS_H_
