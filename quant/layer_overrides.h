// Per-layer precision (a method's `overrides`, grid/overrides.h) over the method entry
// point: the entry's method runs first with every overridden layer (and the `keep` list)
// left dense; then, in the order the overrides are written, each override's method runs on
// exactly the layers whose first matching pattern is its own, with the entry's parameters
// (its own method) or that method's defaults, and its bits / group_size. A calibrated
// override pass runs the layer driver over the model as it stands, so its layers see the
// inputs the already-quantized layers produce. `keep: true` layers stay in the model's
// float dtype. The report has one record per linear (its last action) and the entry's
// parameters, overrides included.
#ifndef LLMQ_QUANT_LAYER_OVERRIDES_H_
#define LLMQ_QUANT_LAYER_OVERRIDES_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/params.h"
#include "quant/quantize.h"

namespace llmq {

// `resolved`: the entry's parameters, defaults filled in, with a non-empty "overrides".
absl::StatusOr<QuantizationReport> QuantizeWithOverrides(CausalLM& model, const std::string& method,
                                                         const Params& resolved,
                                                         const CalibrationSet* calibration,
                                                         const QuantizeProgress& progress,
                                                         Installation installation);

}  // namespace llmq

#endif  // LLMQ_QUANT_LAYER_OVERRIDES_H_
