// AWQ (Lin et al. 2023) and the seed paper's GSQ (the same activation-aware group scaling;
// both method names run this code), as the AWQ reference implementation does it:
//   per group of linears reading the same input x (below), a per-input-channel scale
//     s(α) = x̄^α / sqrt(max(x̄^α) · min(x̄^α)),  x̄ = mean |x| over all calibration tokens,
//   α on `grid` points {0, 1/grid, ..., (grid-1)/grid}; the α kept minimises the mean squared
//   error of the group's outputs, X W_kᵀ against (X / s) Q(W_k diag(s))ᵀ over the linears
//   W_k of the group (α = 0 is plain RTN, so the search never does worse than RTN on the
//   calibration tokens). AutoAWQ measures the error at the attention / MLP module output; we
//   measure it at the linears' outputs, which needs no model internals. Because that error
//   is linear in the weight error D, its mean square over all calibration tokens is
//   Σ_r d_r G d_rᵀ with G = (1/n) Σ x xᵀ: the inputs are observed once into G (as GPTQ's
//   Hessian), every token counts, and no activations are stored.
//   The kept s is folded exactly: W_k <- W_k diag(s), and 1/s into the op producing x.
//   Optional clip search per linear (not q/k, as AutoAWQ: their error is multiplied by the
//   other's in q·kᵀ): per row and group, the quantizer's range [lo, hi] is shrunk to
//   f·[lo, hi] for f in {1, 1 - 1/20, ..., 0.55} (up to 50 %), keeping the f with the least
//   mean squared error of that group's partial outputs on calibration tokens (again from G).
//   Then group-wise RTN (quant/group_quant.h): any group size, a short last group included.
// Groups and where 1/s goes:
//   Llama / Qwen2: input_layernorm -> q,k,v; v -> o (only when v's outputs are o's inputs
//   channel for channel, i.e. no GQA); post_attention_layernorm -> gate,up; up -> down
//   (down reads silu(gate)·up, linear in up's outputs).
//   Phi: input_layernorm (weight and bias) -> q,k,v,fc1; v -> dense (no GQA). fc2 reads
//   gelu(fc1 x), which no scale passes through exactly, so fc2 is not scaled (AutoAWQ folds
//   into fc1 anyway, changing the model; we keep the fold exact) — fc2 gets RTN + clip.
#ifndef LLMQ_QUANT_AWQ_H_
#define LLMQ_QUANT_AWQ_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/transformer.h"
#include "quant/group_quant.h"
#include "quant/layer_driver.h"

namespace llmq {

struct AwqOptions {
  QuantSpec spec;  // scale_dtype: the installed scales'; the searches quantize with it too
  int grid = 20;  // α points
  bool clip = true;
  double max_shrink = 0.5;  // clip search shrinks the range by up to this fraction
  int clip_grid = 20;       // shrink steps of 1 / clip_grid
};

// A group of linears reading one input, and the op that produces that input.
struct AwqGroup {
  std::string prev_name;                           // "input_layernorm", "self_attn.v_proj", ...
  Norm* prev_norm = nullptr;                       // either a norm
  std::unique_ptr<Linear>* prev_linear = nullptr;  // or a linear whose output rows are x
  std::vector<NamedLinear> linears;                // forward order
};

// The scaling groups of block `layer` for the model's architecture.
std::vector<AwqGroup> AwqGroups(CausalLM& model, int layer);

// Folds s (in) into a group: the linears' columns times s, the previous op's output divided
// by s (norm weight and bias, or the previous linear's rows and bias). Needs dense layers.
absl::Status ApplyAwqScales(const AwqGroup& group, const at::Tensor& scales);

struct AwqScaleSearch {
  at::Tensor scales;  // (in) float32
  double alpha = 0;
  double loss = 0;      // output MSE at the kept α
  double rtn_loss = 0;  // output MSE at α = 0 (plain RTN)
};

// gram: (in, in) float32 (1/n) Σ x xᵀ of the group's input; x_abs_mean: (in) mean |x|;
// weights: each (out_k, in). Pure computation.
absl::StatusOr<AwqScaleSearch> SearchAwqScales(const at::Tensor& gram, const at::Tensor& x_abs_mean,
                                               const std::vector<at::Tensor>& weights,
                                               const AwqOptions& options);

// The weight (out, in) as float32 with each row-group clipped to its best shrunk range,
// for inputs whose (1/n) Σ x xᵀ is `gram` (in, in); *mean_shrink (if not null) receives the
// mean shrink fraction chosen. Pure computation.
absl::StatusOr<at::Tensor> SearchAwqClip(const at::Tensor& weight, const at::Tensor& gram,
                                         const AwqOptions& options, double* mean_shrink);

// AWQ under the layer driver (run it with true_sequential = false: one pass per block
// sees every input before any scale is folded). Records stats alpha, scale_loss, rtn_loss
// (of the linear's group) and clip_shrink.
std::unique_ptr<BlockMethod> MakeAwqMethod(CausalLM& model, const AwqOptions& options,
                                           KeepPredicate keep, LayerInstaller install,
                                           std::vector<LayerRecord>* records);

}  // namespace llmq

#endif  // LLMQ_QUANT_AWQ_H_
