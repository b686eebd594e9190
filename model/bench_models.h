// The Llama-3.2-1B-shaped model the speed benchmarks run (llmq_model_bench, and the
// quantized models of llmq_quant_model_bench), with random weights, and how they time it.
// Not used by llmq itself.
#ifndef LLMQ_MODEL_BENCH_MODELS_H_
#define LLMQ_MODEL_BENCH_MODELS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "model/config.h"
#include "model/transformer.h"

namespace llmq {

// Llama-3.2-1B's shape (config.json of meta-llama/Llama-3.2-1B) with `layers` layers.
ModelConfig Llama1BShape(int layers);

// That model with weights N(0, 0.02²) from at::manual_seed(0) and unit norms.
absl::StatusOr<std::unique_ptr<CausalLM>> RandomLlama1B(int layers, at::ScalarType dtype);

// Seconds of one forward over `prompt` (1, tokens), after a 64-token warm-up.
double PrefillSeconds(CausalLM& model, const at::Tensor& prompt);

// Tokens/s of `steps` greedy decode steps at batch 1 after a 16-token prompt.
double DecodeTokensPerSecond(CausalLM& model, const at::Tensor& prompt, int64_t steps);

}  // namespace llmq

#endif  // LLMQ_MODEL_BENCH_MODELS_H_
