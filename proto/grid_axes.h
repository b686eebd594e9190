// Internal to the grid library: `zip:` (pairing axes of one entry instead of crossing them)
// and the enumeration of an entry's variants from its axes.
#ifndef LLMQ_PROTO_GRID_AXES_H_
#define LLMQ_PROTO_GRID_AXES_H_

#include <map>
#include <string>
#include <vector>

#include "proto/grid.h"
#include "proto/grid_diagnostics.h"
#include "proto/grid_yaml.h"

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

#endif  // LLMQ_PROTO_GRID_AXES_H_
