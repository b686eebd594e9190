// Quantized models as artifacts of the worker's cache: exported as checkpoints
// (quant/gptq_export.h: GPTQ tensors, and llmq's own for the int8, fp8 and SpQR layers
// of the other methods) with the quantization's provenance beside them
// (llmq_quantization.json), so a later job with the same quant_key loads the artifact
// instead of quantizing again, and reports the same provenance.
#ifndef LLMQ_WORKER_QUANT_ARTIFACT_H_
#define LLMQ_WORKER_QUANT_ARTIFACT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/transformer.h"
#include "quant/quantize.h"
#include "worker/artifact_cache.h"

namespace llmq {

// The report as "quant.*" provenance entries (method, parameters, calibration and its
// fingerprint, dampings, seconds).
std::map<std::string, std::string> QuantizationProvenance(const QuantizationReport& report);

// Exports `model` (loaded from `source`) under `key`; returns the artifact's files.
absl::StatusOr<std::vector<std::string>> ExportToCache(CausalLM& model, const std::string& source,
                                                       const std::string& key,
                                                       const std::map<std::string, std::string>& provenance,
                                                       ArtifactCache& cache);

// The provenance stored with an artifact.
absl::StatusOr<std::map<std::string, std::string>> ReadQuantizationProvenance(const std::string& dir);

}  // namespace llmq

#endif  // LLMQ_WORKER_QUANT_ARTIFACT_H_
