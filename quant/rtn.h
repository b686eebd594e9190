// Round-to-nearest (RTN) weight-only quantization of a whole model, and the pieces every
// weight-only method shares: which linears to quantize (block linears, optionally
// lm_head, minus a `keep` list left dense for mixed precision) and the swap of a dense
// linear for a packed QuantizedLinear.
//
// A method (RTN here, GPTQ and AWQ elsewhere) computes a GroupQuantized per linear and
// calls ReplaceWithQuantized; the model then holds only packed codes for that layer.
#ifndef LLMQ_QUANT_RTN_H_
#define LLMQ_QUANT_RTN_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/glob.h"
#include "model/transformer.h"
#include "quant/group_quant.h"

namespace llmq {

// "model.layers.0.*, lm_head" -> {"model.layers.0.*", "lm_head"}: split on commas,
// spaces trimmed, empty entries dropped.
std::vector<std::string> ParseKeepPatterns(absl::string_view csv);

struct LayerSelection {
  bool include_lm_head = false;   // lm_head is left dense unless asked for
  std::vector<std::string> keep;  // linears matching any pattern stay dense
};

// The linears of `model` a method should quantize under `selection`, in model order.
// The names of the linears left dense go to `kept` when given.
std::vector<NamedLinear> SelectLinears(CausalLM& model, const LayerSelection& selection,
                                       std::vector<std::string>* kept = nullptr);

// Replaces the dense linear in `linear.slot` by a QuantizedLinear over `q` with the old
// layer's bias, on the old layer's device, computing in `compute_dtype` (the model's
// dtype). FailedPrecondition if the slot holds no dense weight (already quantized);
// InvalidArgument if q's shape is not the layer's, or if a scale is not exactly a float16
// value: the packed layer stores float16 scales (GPTQ's format), and codes computed with
// other scales would not be the codes of the stored weight — quantize with
// spec.scale_dtype = QuantizedLinear::kScaleDtype. The layer's weight is then exactly
// Dequantize(q). Matches quant/layer_driver.h's LayerInstaller:
// [&](auto& l, auto& q) { return ReplaceWithQuantized(l, q, dtype); }.
absl::Status ReplaceWithQuantized(const NamedLinear& linear, const GroupQuantized& q,
                                  at::ScalarType compute_dtype);

struct RtnOptions {
  QuantSpec spec;  // scale_dtype is ignored: RTN packs, so it quantizes with float16 scales
  LayerSelection selection;
};

// What a weight-only method did to a model.
struct QuantizeSummary {
  std::vector<std::string> quantized;  // layer names, in model order
  std::vector<std::string> kept;       // left dense by the keep list (and lm_head)
  int64_t linear_bytes_before = 0;     // WeightBytes of the quantized layers, before
  int64_t linear_bytes_after = 0;      // ... and after
};

// RTN: every selected linear -> QuantizeGroups(W, spec) -> ReplaceWithQuantized.
absl::StatusOr<QuantizeSummary> QuantizeModelRtn(CausalLM& model, const RtnOptions& options);

}  // namespace llmq

#endif  // LLMQ_QUANT_RTN_H_
