#include "proto/grid_axes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

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

std::vector<std::map<std::string, std::string>> EntryVariants(const GridEntry& entry) {
  // Dimensions: each zip group is one, at its first member's place; other axes are one each.
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
