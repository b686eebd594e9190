// The shape and arithmetic of a causal LM, read from a Hugging Face config.json or a
// llama2.c header. One struct covers Llama, Qwen2 and Phi; the architecture decides
// norms, residual layout, activation and biases.
#ifndef LLMQ_MODEL_CONFIG_H_
#define LLMQ_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace llmq {

enum class Architecture { kLlama, kQwen2, kPhi };

std::string ArchitectureName(Architecture arch);

// Llama-3 style RoPE frequency scaling (rope_scaling.rope_type == "llama3").
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 2048;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;  // Phi: 0.5 (rotary on the first half of head_dim)
  std::optional<Llama3RopeScaling> llama3_rope_scaling;
  bool attention_bias = false;  // q/k/v biases (Qwen2: true)
  bool output_bias = false;     // o_proj / dense bias (Phi: true)
  bool mlp_bias = false;        // Phi: true
  bool lm_head_bias = false;    // Phi: true
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";  // "silu" (gated MLP) or "gelu_new" (Phi)
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::string torch_dtype = "float32";  // dtype of the checkpoint as published

  int64_t rotary_dim() const {
    return static_cast<int64_t>(static_cast<double>(head_dim) * partial_rotary_factor);
  }
  // Parallel attention + MLP from one norm (Phi) instead of two sequential sub-blocks.
  bool parallel_residual() const { return arch == Architecture::kPhi; }
  bool uses_layernorm() const { return arch == Architecture::kPhi; }
  bool gated_mlp() const { return arch != Architecture::kPhi; }
};

// Parses a Hugging Face config.json. Errors name the file and the field.
absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text,
                                          const std::string& path_for_errors);
absl::StatusOr<ModelConfig> LoadHfConfig(const std::string& path);

}  // namespace llmq

#endif  // LLMQ_MODEL_CONFIG_H_
