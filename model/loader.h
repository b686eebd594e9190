// Loading a model by path: a Hugging Face directory (config.json + safetensors, possibly
// a quantized checkpoint: GPTQ-format layers and/or llmq's own, model/llmq_checkpoint.h) or a llama2.c checkpoint (`.bin` with a tok*.bin
// beside it). The result is the model, its tokenizer and where they came from.
#ifndef LLMQ_MODEL_LOADER_H_
#define LLMQ_MODEL_LOADER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype of the dense parts
  at::Device device = at::kCPU;
};

struct LoadedModel {
  std::unique_ptr<CausalLM> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string format;              // "hf", "llama2c", "gptq", "llmq" (llmq_layers.json)
  std::vector<std::string> files;  // the files that define the model (weights, config, tokenizer)
};

// `path` is a model directory or a llama2.c `.bin` file. Errors name the file and the
// problem (missing config, unknown architecture, bad tensor, missing tokenizer).
absl::StatusOr<LoadedModel> LoadModel(const std::string& path, const LoadOptions& options);

// The same without the tokenizer (format and files are filled in).
absl::StatusOr<LoadedModel> LoadModelWithoutTokenizer(const std::string& path,
                                                      const LoadOptions& options);

// The tokenizer LoadModel(path) loads, without the weights.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& path);

// The llama2.c v0 checkpoint as a config and HF-named weights (wq/wk permuted from
// llama2.c's interleaved RoPE pairs to Hugging Face's rotate-half layout).
struct Llama2cWeights {
  ModelConfig config;
  std::map<std::string, at::Tensor> tensors;
};
absl::StatusOr<Llama2cWeights> ReadLlama2cCheckpoint(const std::string& path);

// Parses a dtype name as used in grid files and configs: float32/fp32, bfloat16/bf16,
// float16/fp16.
absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name);

}  // namespace llmq

#endif  // LLMQ_MODEL_LOADER_H_
