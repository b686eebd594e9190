// llmq's own quantized layers in a Hugging Face checkpoint directory, both ways, and the
// loading of a checkpoint whose linears are any mix of dense, GPTQ and llmq's layers.
//
// The GPTQ format (model/gptq_checkpoint.h) holds packed int2..8 group quantization
// (QuantizedLinear) only. The other layers are stored beside it, in the same safetensors
// file(s), as "<layer>.llmq_<kind>.<part>" tensors, and listed in llmq_layers.json:
//   {"format": "llmq_layers", "version": 1,
//    "layers": {"model.layers.0.mlp.down_proj": {"kind": "int8", "out_features": 64,
//                 "in_features": 172, "weight_bits": 8, "activation_bits": 8,
//                 "outlier_threshold": 6.0}, ...}}
// Per kind (W of shape (out, in); a bias is "<layer>.bias" in the model's dtype, as for
// every linear):
//   int8  Int8Linear (SmoothQuant W8A8, LLM.int8()): weight_bits, activation_bits (2..8),
//         outlier_threshold (LLM.int8()'s fp16 columns; absent: none).
//           .llmq_int8.codes   (out, in) int8, |code| <= 2^(weight_bits-1) - 1
//           .llmq_int8.scales  (out) float32, per output channel
//   fp8   Fp8Linear: format "e4m3" | "e5m2", granularity "tensor" | "channel",
//         activations (true: per-token fp8 activations).
//           .llmq_fp8.codes    (out, in) uint8, finite values of the format
//           .llmq_fp8.scales   (1) or (out) float32
//   spqr  SpqrLinear: bits, scale_bits, group_size; the tensors of model/spqr_linear.h:
//           .llmq_spqr.codes, .scale_codes, .zero_codes      packed uint8 bit streams
//           .llmq_spqr.scale_lo, .scale_step, .zero_lo, .zero_step
//                                                      (row_groups, groups) float16
//           .llmq_spqr.row_ptr (out + 1) int32, .columns (nnz) int16 (int32 when in >
//           32767), .values (nnz) float16: the outliers in CSR
// Every other tensor (embeddings, norms, dense linears) is stored as in any Hugging Face
// checkpoint, as the model holds it: SmoothQuant's smoothing, folded into the norms, is
// in their weights. With GPTQ layers beside llmq's, config.json's quantization_config
// and quantize_config.json describe the GPTQ ones; with none, config.json says
// "quantization_config": {"quant_method": "llmq", ...}, so that tools that do not know
// the format refuse the checkpoint instead of loading a model with missing weights.
// Loading is bit-exact: the layers hold the same tensors they were exported from.
#ifndef LLMQ_MODEL_LLMQ_CHECKPOINT_H_
#define LLMQ_MODEL_LLMQ_CHECKPOINT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/fp8_linear.h"
#include "model/gptq_checkpoint.h"
#include "model/int8_linear.h"
#include "model/linear.h"
#include "model/transformer.h"

namespace llmq {

inline constexpr char kLlmqLayersFile[] = "llmq_layers.json";
// config.json's quantization_config.quant_method of a checkpoint with no GPTQ layer.
inline constexpr char kLlmqQuantMethod[] = "llmq";

enum class LlmqLayerKind { kInt8, kFp8, kSpqr };

// One layer's entry in llmq_layers.json.
struct LlmqLayerEntry {
  LlmqLayerKind kind = LlmqLayerKind::kInt8;
  int64_t out_features = 0, in_features = 0;
  Int8Linear::Options int8;  // kInt8
  Fp8Linear::Options fp8;    // kFp8
  int spqr_bits = 3, spqr_scale_bits = 3;  // kSpqr
  int64_t spqr_group_size = 16;
};

// Entries by linear name ("model.layers.0.self_attn.q_proj").
using LlmqLayers = std::map<std::string, LlmqLayerEntry>;

// Whether `layer` is one of the kinds above.
bool IsLlmqLayer(const Linear& layer);

// For linear `name`, one of llmq's kinds: appends its tensors (not the bias) to *tensors
// and its entry to *layers. InvalidArgument for another kind of layer.
absl::Status AddLlmqLayer(const std::string& name, const Linear& layer,
                          std::vector<std::pair<std::string, at::Tensor>>* tensors, LlmqLayers* layers);

// The text of llmq_layers.json.
std::string LlmqLayersJson(const LlmqLayers& layers);

// The llmq_layers.json of `dir`, or nullopt when it has none (NotFound when config.json
// says quant_method "llmq" all the same). Errors name the file and the layer or field.
absl::StatusOr<std::optional<LlmqLayers>> ReadLlmqLayers(const std::string& dir);

// The model of a checkpoint with quantized linears: a QuantizedLinear for every linear
// with "<name>.qweight" (when `gptq` is set), llmq's layer for every entry of `layers`,
// everything else as CausalLM::Create builds it. The dense placeholders Create needs for
// the quantized linears are never touched, so on CPU they cost no memory. Errors name the
// file and the tensor (or the layer, for a broken invariant).
absl::StatusOr<std::unique_ptr<CausalLM>> LoadQuantizedModel(const ModelConfig& config,
                                                             const std::optional<GptqFormat>& gptq,
                                                             const LlmqLayers& layers,
                                                             const Checkpoint& checkpoint, at::ScalarType dtype,
                                                             at::Device device);

}  // namespace llmq

#endif  // LLMQ_MODEL_LLMQ_CHECKPOINT_H_
