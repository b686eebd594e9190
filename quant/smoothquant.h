// SmoothQuant (Xiao et al. 2023), W8A8 with per-channel weights and per-token dynamic
// activations (the paper's "O1"-style granularity), under the layer driver:
//   1. one pass per block records each linear input's per-channel maximum max_t |x[t, j]|
//      over all calibration tokens;
//   2. for each group of linears behind a norm (Llama / Qwen2: input_layernorm -> q, k, v
//      and post_attention_layernorm -> gate, up; Phi: input_layernorm -> q, k, v, fc1),
//        s_j = max|X_j|^α / max|W_j|^(1-α)   (max|W_j| over the group's rows; both clamped
//                                              below at 1e-5, as the reference code does)
//      is folded exactly: the norm's weight (and bias) divided by s, the group's weight
//      columns multiplied by s (quant/awq.h's ApplyAwqScales). The float model computes
//      the same function; activation outliers have moved into the weights;
//   3. every block linear (o_proj and down_proj unsmoothed) becomes an Int8Linear
//      (model/int8_linear.h): int8 weights per output channel, int8 activations per token,
//      int32 accumulation in the integer kernel. w_bits / a_bits below 8 use fewer levels
//      in the same int8 storage and kernel (fake-quantized storage).
// The v -> o and up -> down folds of the paper's variants are not applied.
#ifndef LLMQ_QUANT_SMOOTHQUANT_H_
#define LLMQ_QUANT_SMOOTHQUANT_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/transformer.h"
#include "quant/layer_driver.h"

namespace llmq {

struct SmoothQuantOptions {
  double alpha = 0.5;
  int weight_bits = 8;
  int activation_bits = 8;
};

// s (in) float32 from the input's channel maxima (in) and the group's weights, each (out_k, in).
at::Tensor SmoothingScales(const at::Tensor& activation_max, const std::vector<at::Tensor>& weights, double alpha);

// Step 2 for block `layer`: activation_max maps a linear's name to its input's channel
// maxima (in); groups whose first linear has none are left alone. Records s's range per
// linear in `stats` (name -> stat -> value) when given.
absl::Status SmoothBlock(CausalLM& model, int layer, const std::map<std::string, at::Tensor>& activation_max,
                         double alpha, std::map<std::string, std::map<std::string, double>>* stats = nullptr);

// The method for quant/layer_driver.h (run it with true_sequential = false).
std::unique_ptr<BlockMethod> MakeSmoothQuantMethod(CausalLM& model, const SmoothQuantOptions& options,
                                                   KeepPredicate keep, std::vector<LayerRecord>* records);

}  // namespace llmq

#endif  // LLMQ_QUANT_SMOOTHQUANT_H_
