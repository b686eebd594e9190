#include "quant/layer_overrides.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "grid/overrides.h"
#include "quant/rtn.h"

namespace llmq {

absl::StatusOr<QuantizationReport> QuantizeWithOverrides(CausalLM& model, const std::string& method,
                                                         const Params& resolved,
                                                         const CalibrationSet* calibration,
                                                         const QuantizeProgress& progress,
                                                         Installation installation) {
  LLMQ_ASSIGN_OR_RETURN(std::vector<LayerOverride> overrides,
                        ParseLayerOverrides(resolved.at("overrides")));
  const std::vector<std::string> keep = ParseKeepPatterns(resolved.at("keep"));
  // Each block linear's override (its first matching pattern), or none.
  std::vector<std::vector<std::string>> assigned(overrides.size());
  std::vector<std::string> blocks;
  std::set<std::string> overridden;
  for (const NamedLinear& l : model.Linears()) {
    if (l.layer < 0) continue;
    blocks.push_back(l.name);
    bool kept = false;
    for (const std::string& pattern : keep) kept = kept || GlobMatch(pattern, l.name);
    if (kept) continue;
    for (size_t i = 0; i < overrides.size(); ++i) {
      if (LayerPatternMatches(overrides[i].pattern, l.name)) {
        assigned[i].push_back(l.name);
        overridden.insert(l.name);
        break;
      }
    }
  }

  Params base = resolved;
  base["overrides"] = "";
  std::vector<std::string> base_keep = keep;
  base_keep.insert(base_keep.end(), overridden.begin(), overridden.end());
  base["keep"] = absl::StrJoin(base_keep, ",");
  LLMQ_ASSIGN_OR_RETURN(QuantizationReport report,
                        QuantizeModelWithCalibration(model, method, base, calibration, progress,
                                                     installation));
  std::map<std::string, LayerRecord> records;
  for (LayerRecord& r : report.layers) records[r.name] = std::move(r);
  for (size_t i = 0; i < overrides.size(); ++i) {
    const LayerOverride& o = overrides[i];
    const std::string label = absl::StrCat("override.", i);
    report.provenance[label] = absl::StrCat(o.pattern, " layers=", assigned[i].size(),
                                            o.keep ? " keep" : "");
    if (o.keep || assigned[i].empty()) continue;
    const std::string m = o.method.empty() ? method : o.method;
    Params params;
    if (m == method) params = resolved;
    params["overrides"] = "";
    for (const auto& [name, value] : o.params) params[name] = value;
    std::vector<std::string> others;
    const std::set<std::string> mine(assigned[i].begin(), assigned[i].end());
    for (const std::string& name : blocks) {
      if (mine.count(name) == 0) others.push_back(name);
    }
    params["keep"] = absl::StrJoin(others, ",");
    auto sub = QuantizeModelWithCalibration(model, m, params,
                                            IsCalibratedMethod(m) ? calibration : nullptr,
                                            progress, installation);
    if (!sub.ok()) {
      return Annotate(sub.status(), absl::StrCat("override ", i, " (", o.pattern, ")"));
    }
    report.provenance[label] = absl::StrCat(report.provenance[label], " ", sub->method, " ",
                                            absl::StrJoin(o.params, ",", absl::PairFormatter("=")));
    for (LayerRecord& r : sub->layers) {
      if (mine.count(r.name) != 0) records[r.name] = std::move(r);
    }
    for (const auto& [stage, seconds] : sub->seconds) report.seconds[stage] += seconds;
  }
  report.layers.clear();
  for (const NamedLinear& l : model.Linears()) {
    auto it = records.find(l.name);
    if (it != records.end()) report.layers.push_back(std::move(it->second));
  }
  report.params = resolved;
  report.description = DescribeQuantization(method, report.params, report.calibration,
                                            report.calibration_fingerprint);
  return report;
}

}  // namespace llmq
