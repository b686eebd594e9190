#include "model/bench_models.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace llmq {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

ModelConfig Llama1BShape(int layers) {
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.vocab_size = 128256;
  c.hidden_size = 2048;
  c.intermediate_size = 8192;
  c.num_layers = layers;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.max_position_embeddings = 131072;
  c.rope_theta = 500000.0;
  c.llama3_rope_scaling = Llama3RopeScaling{32.0, 1.0, 4.0, 8192};
  c.tie_word_embeddings = true;
  return c;
}

absl::StatusOr<std::unique_ptr<CausalLM>> RandomLlama1B(int layers, at::ScalarType dtype) {
  const ModelConfig c = Llama1BShape(layers);
  at::manual_seed(0);
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                  ff = c.intermediate_size;
    auto ends = [&](const char* suffix) { return name.size() >= std::strlen(suffix) &&
                                                 name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0; };
    std::vector<int64_t> shape;
    if (name == "model.embed_tokens.weight") shape = {c.vocab_size, h};
    else if (ends("layernorm.weight") || name == "model.norm.weight") return at::ones({h});
    else if (ends("q_proj.weight")) shape = {q, h};
    else if (ends("k_proj.weight") || ends("v_proj.weight")) shape = {kv, h};
    else if (ends("o_proj.weight")) shape = {h, q};
    else if (ends("gate_proj.weight") || ends("up_proj.weight")) shape = {ff, h};
    else if (ends("down_proj.weight")) shape = {h, ff};
    else return absl::NotFoundError(name);
    return at::randn(shape) * 0.02;
  };
  return CausalLM::Create(c, lookup, dtype, at::kCPU);
}

double PrefillSeconds(CausalLM& model, const at::Tensor& prompt) {
  model.Forward(prompt.narrow(1, 0, std::min<int64_t>(64, prompt.size(1))), {}, nullptr, true);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  model.Forward(prompt, {}, nullptr, true);
  return Seconds(start);
}

double DecodeTokensPerSecond(CausalLM& model, const at::Tensor& prompt, int64_t steps) {
  KvCache cache = model.NewCache(1, 16 + steps);
  at::Tensor logits = model.Forward(prompt.narrow(1, 0, 16), {}, &cache, true);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    logits = model.Forward(logits.select(1, 0).argmax(-1, true), {}, &cache, true);
  }
  return steps / Seconds(start);
}

}  // namespace llmq
