#include "worker/quant_artifact.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "quant/gptq_export.h"

namespace llmq {
namespace {

constexpr char kProvenanceFile[] = "llmq_quantization.json";

}  // namespace

std::map<std::string, std::string> QuantizationProvenance(const QuantizationReport& report) {
  std::map<std::string, std::string> p;
  p["quant.method"] = report.method;
  p["quant.description"] = report.description;
  for (const auto& [k, v] : report.params) p["quant.param." + k] = v;
  if (!report.calibration.empty()) {
    p["quant.calibration"] = report.calibration;
    p["quant.calibration_sha256"] = report.calibration_fingerprint;
    p["quant.calibration_sampling"] = report.calibration_sampling;
  }
  if (report.max_final_damp > 0) {
    p["quant.max_final_damp"] = absl::StrCat(report.max_final_damp);
    p["quant.damped_layers"] = absl::StrCat(report.damped_layers);
  }
  int64_t quantized = 0, kept = 0;
  for (const LayerRecord& layer : report.layers) (layer.action == "kept" ? kept : quantized)++;
  p["quant.layers_quantized"] = absl::StrCat(quantized);
  p["quant.layers_kept"] = absl::StrCat(kept);
  for (const auto& [stage, seconds] : report.seconds) p["quant.seconds." + stage] = absl::StrCat(seconds);
  for (const auto& [k, v] : report.provenance) p["quant." + k] = v;
  return p;
}

absl::StatusOr<std::vector<std::string>> ExportToCache(CausalLM& model, const std::string& source,
                                                       const std::string& key,
                                                       const std::map<std::string, std::string>& provenance,
                                                       ArtifactCache& cache) {
  LLMQ_ASSIGN_OR_RETURN(std::string staging, cache.NewStagingDir(key));
  GptqExportOptions options;
  options.source = source;
  LLMQ_ASSIGN_OR_RETURN(GptqExportSummary summary, ExportGptq(model, staging, options));
  const nlohmann::json json(provenance);
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(staging, kProvenanceFile), json.dump(1)));
  LLMQ_RETURN_IF_ERROR(cache.Commit(key, staging));
  std::vector<std::string> files;
  for (const std::string& f : summary.files) files.push_back(JoinPath(cache.Path(key), f));
  return files;
}

absl::StatusOr<std::map<std::string, std::string>> ReadQuantizationProvenance(const std::string& dir) {
  const std::string path = JoinPath(dir, kProvenanceFile);
  LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a JSON object"));
  }
  std::map<std::string, std::string> p;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it->is_string()) p[it.key()] = it->get<std::string>();
  }
  return p;
}

}  // namespace llmq
