#include "report/metric_catalog.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace llmq {
namespace {

// One row per metric (or family of metrics). In a name, '#' stands for a number
// (prefill_ms_512) and '*' for any word (quantize_seconds); the label repeats it.
struct CatalogEntry {
  const char* name;
  const char* label;
  const char* unit;
  Better better;
  DeltaKind delta;
};

constexpr Better kLower = Better::kLower;
constexpr Better kHigher = Better::kHigher;
constexpr Better kNeither = Better::kNeither;
constexpr DeltaKind kAbs = DeltaKind::kAbsolute;
constexpr DeltaKind kRel = DeltaKind::kRelative;

// The metric-direction table: the only place that says which way is better.
constexpr CatalogEntry kCatalog[] = {
    // Language modelling (ppl)
    {"ppl", "ppl", "", kLower, kRel},
    {"word_ppl", "word ppl", "", kLower, kRel},
    {"nll_per_token", "NLL/token", "nats", kLower, kAbs},
    {"bits_per_byte", "bits/byte", "", kLower, kAbs},
    // Scores in [0, 1] (boolq, mc, gsm8k, msmarco)
    {"accuracy", "acc", "", kHigher, kAbs},
    {"accuracy_norm", "acc_norm", "", kHigher, kAbs},
    {"exact_match_strict", "EM strict", "", kHigher, kAbs},
    {"exact_match_flexible", "EM flexible", "", kHigher, kAbs},
    {"ndcg_at_#", "nDCG@#", "", kHigher, kAbs},
    {"mrr_at_#", "MRR@#", "", kHigher, kAbs},
    // A random ranking of the same candidates: the floor the model must beat, not a result.
    {"ndcg_at_#_random_order", "nDCG@# random order", "", kNeither, kAbs},
    {"mrr_at_#_random_order", "MRR@# random order", "", kNeither, kAbs},
    // Efficiency
    {"prefill_ms_#", "prefill #", "ms", kLower, kRel},
    {"prefill_tokens_per_s_#", "prefill # speed", "tokens/s", kHigher, kRel},
    {"decode_ms_p50", "decode p50", "ms", kLower, kRel},
    {"decode_ms_p95", "decode p95", "ms", kLower, kRel},
    {"throughput_b#", "throughput b#", "tokens/s", kHigher, kRel},
    {"weight_bytes", "weight", "bytes", kLower, kRel},
    {"block_linear_bytes", "linear weights", "bytes", kLower, kRel},
    {"disk_bytes", "disk", "bytes", kLower, kRel},
    // Serving (from the installed model to the task's end) and quantizing (from the job's
    // start through calibration and quantization) peak apart: what each costs.
    {"peak_rss_bytes", "peak RSS", "bytes", kLower, kRel},
    {"tensor_peak_bytes", "tensor peak", "bytes", kLower, kRel},
    {"cuda_peak_allocated_bytes", "GPU peak allocated", "bytes", kLower, kRel},
    {"cuda_peak_reserved_bytes", "GPU peak reserved", "bytes", kLower, kRel},
    {"quantize_peak_rss_bytes", "quantize peak RSS", "bytes", kLower, kRel},
    {"quantize_cuda_peak_allocated_bytes", "quantize GPU peak allocated", "bytes", kLower, kRel},
    {"quantize_cuda_peak_reserved_bytes", "quantize GPU peak reserved", "bytes", kLower, kRel},
    {"bits_per_weight", "bits/weight", "", kLower, kAbs},
    {"model_bits_per_weight", "model bits/weight", "", kLower, kAbs},
    {"outlier_fraction", "outliers", "", kNeither, kAbs},
    {"*_seconds", "* time", "s", kLower, kRel},
    // Counts: what was measured, not how well.
    {"parameters", "parameters", "", kNeither, kAbs},
    {"n", "n", "", kNeither, kAbs},
    {"n_queries", "queries", "", kNeither, kAbs},
    {"n_passages", "passages", "", kNeither, kAbs},
    {"predicted_tokens", "predicted tokens", "", kNeither, kAbs},
    {"windows", "windows", "", kNeither, kAbs},
};

struct Headline {
  const char* task;
  std::vector<const char*> metrics;
};

const std::vector<Headline>& Headlines() {
  static const auto* headlines = new std::vector<Headline>{
      {"ppl", {"ppl"}},
      {"boolq", {"accuracy"}},
      {"gsm8k", {"exact_match_strict", "exact_match_flexible"}},
      {"msmarco", {"ndcg_at_#", "mrr_at_#"}},
      {"mc", {"accuracy", "accuracy_norm"}},
      {"efficiency",
       {"prefill_ms_#", "decode_ms_p50", "throughput_b#", "weight_bytes", "tensor_peak_bytes",
        "peak_rss_bytes", "quantize_peak_rss_bytes", "bits_per_weight"}},
  };
  return *headlines;
}

// Whether `name` matches `pattern`; `*wildcard` gets what '#' or '*' stood for.
bool Matches(absl::string_view pattern, absl::string_view name, std::string* wildcard) {
  const size_t at = pattern.find_first_of("#*");
  if (at == absl::string_view::npos) return pattern == name;
  const absl::string_view prefix = pattern.substr(0, at);
  const absl::string_view suffix = pattern.substr(at + 1);
  if (name.size() <= prefix.size() + suffix.size()) return false;
  if (name.substr(0, prefix.size()) != prefix) return false;
  if (name.substr(name.size() - suffix.size()) != suffix) return false;
  const absl::string_view middle =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  for (char c : middle) {
    const bool ok = pattern[at] == '#' ? std::isdigit(static_cast<unsigned char>(c)) != 0
                                       : (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) return false;
  }
  *wildcard = std::string(middle);
  return true;
}

const Headline* FindHeadline(absl::string_view task) {
  for (const Headline& headline : Headlines()) {
    if (task == headline.task) return &headline;
  }
  return nullptr;
}

}  // namespace

MetricInfo DescribeMetric(absl::string_view name, absl::string_view stored_unit) {
  std::string wildcard;
  for (const CatalogEntry& entry : kCatalog) {
    if (!Matches(entry.name, name, &wildcard)) continue;
    return {absl::StrReplaceAll(entry.label, {{"#", wildcard}, {"*", wildcard}}), entry.unit,
            entry.better, entry.delta};
  }
  return {std::string(name), std::string(stored_unit), Better::kNeither, DeltaKind::kAbsolute};
}

std::vector<std::string> HeadlineMetrics(absl::string_view task,
                                         const std::vector<std::string>& available) {
  const Headline* headline = FindHeadline(task);
  if (headline == nullptr) return available;
  std::vector<std::string> chosen;
  std::string wildcard;
  for (const char* pattern : headline->metrics) {
    for (const std::string& name : available) {
      if (Matches(pattern, name, &wildcard)) chosen.push_back(name);
    }
  }
  return chosen;
}

std::string PlotMetric(absl::string_view task, const std::vector<std::string>& available) {
  if (task == "efficiency" || FindHeadline(task) == nullptr) return "";
  const std::vector<std::string> headline = HeadlineMetrics(task, available);
  return headline.empty() ? "" : headline.front();
}

DisplayUnit ChooseDisplayUnit(absl::string_view unit, double largest_magnitude) {
  if (unit == "bytes") {
    static constexpr struct {
      const char* label;
      double divisor;
    } kBytes[] = {{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}};
    for (const auto& candidate : kBytes) {
      if (largest_magnitude >= candidate.divisor) return {candidate.label, candidate.divisor};
    }
    return {"B", 1};
  }
  if (unit == "tokens/s") return {"tok/s", 1};
  return {std::string(unit), 1};
}

std::string ColumnLabel(const MetricInfo& info, const DisplayUnit& unit) {
  if (unit.label.empty()) return info.label;
  return absl::StrCat(info.label, " (", unit.label, ")");
}

}  // namespace llmq
