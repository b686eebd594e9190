// The two 8-bit methods that need no calibration: each block linear (minus the `keep`
// list; lm_head stays dense) is replaced by an 8-bit layer built from its weight alone.
//   fp8:      model/fp8_linear.h (E4M3 or E5M2 weights, per-tensor or per-channel scales,
//             optionally per-token fp8 activations, fake-quantized);
//   llm_int8: model/int8_linear.h with LLM.int8()'s fp16 outlier columns above `threshold`.
#ifndef LLMQ_QUANT_W8_SWAP_H_
#define LLMQ_QUANT_W8_SWAP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/fp8_linear.h"
#include "model/int8_linear.h"
#include "model/transformer.h"
#include "quant/layer_driver.h"

namespace llmq {

absl::Status QuantizeModelFp8(CausalLM& model, const Fp8Linear::Options& options,
                              const std::vector<std::string>& keep, std::vector<LayerRecord>* records);

absl::Status QuantizeModelLlmInt8(CausalLM& model, double threshold, const std::vector<std::string>& keep,
                                  std::vector<LayerRecord>* records);

// LLM.int8()'s outlier columns over every forward of the model's Int8Linears since they
// were made: outliers / columns seen (0 when none were seen), and the columns seen.
double OutlierColumnFraction(CausalLM& model, int64_t* columns_seen = nullptr);

}  // namespace llmq

#endif  // LLMQ_QUANT_W8_SWAP_H_
