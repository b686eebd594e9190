// Small random models for quant/ tests: every tensor drawn from a seeded generator, norms
// near 1 and biases non-zero so that folding mistakes show. Header-only, tests only.
#ifndef LLMQ_QUANT_TESTING_MODELS_H_
#define LLMQ_QUANT_TESTING_MODELS_H_

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/config.h"
#include "model/transformer.h"
#include "quant/calibration.h"

namespace llmq {
namespace testing_models {

// Llama or Qwen2 (gqa: 4 query heads over 2 kv heads, else 4 over 4) or Phi (parallel
// block, LayerNorm, partial rotary, biases everywhere).
inline ModelConfig TinyConfig(Architecture arch, bool gqa) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = 97;
  c.hidden_size = 48;
  c.intermediate_size = 100;  // not a multiple of 16 or 32
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = gqa ? 2 : 4;
  c.head_dim = 12;
  c.max_position_embeddings = 64;
  if (arch == Architecture::kPhi) {
    c.partial_rotary_factor = 0.5;
    c.attention_bias = c.output_bias = c.mlp_bias = c.lm_head_bias = true;
    c.hidden_act = "gelu_new";
  } else if (arch == Architecture::kQwen2) {
    c.attention_bias = true;
  }
  return c;
}

inline std::unique_ptr<CausalLM> RandomModel(const ModelConfig& c, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::map<std::string, at::Tensor> t;
  auto randn = [&](std::vector<int64_t> shape, double std) {
    return at::normal(0.0, std, shape, gen);
  };
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  const bool phi = c.arch == Architecture::kPhi;
  auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    t[name + ".weight"] = randn({out, in}, 1.0 / std::sqrt(static_cast<double>(in)));
    if (bias) t[name + ".bias"] = randn({out}, 0.1);
  };
  auto norm = [&](const std::string& name) {
    t[name + ".weight"] = 1.0 + randn({h}, 0.2);
    if (phi) t[name + ".bias"] = randn({h}, 0.1);
  };
  t["model.embed_tokens.weight"] = randn({c.vocab_size, h}, 1.0);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    norm(p + "input_layernorm");
    if (!phi) norm(p + "post_attention_layernorm");
    linear(p + "self_attn.q_proj", q, h, c.attention_bias);
    linear(p + "self_attn.k_proj", kv, h, c.attention_bias);
    linear(p + "self_attn.v_proj", kv, h, c.attention_bias);
    linear(p + (phi ? "self_attn.dense" : "self_attn.o_proj"), h, q, c.output_bias);
    if (phi) {
      linear(p + "mlp.fc1", ff, h, true);
      linear(p + "mlp.fc2", h, ff, true);
    } else {
      linear(p + "mlp.gate_proj", ff, h, false);
      linear(p + "mlp.up_proj", ff, h, false);
      linear(p + "mlp.down_proj", h, ff, false);
    }
  }
  norm(phi ? "model.final_layernorm" : "model.norm");
  linear("lm_head", c.vocab_size, h, c.lm_head_bias);
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    auto it = t.find(name);
    if (it == t.end()) return absl::NotFoundError(name);
    return it->second;
  };
  auto model = CausalLM::Create(c, lookup, at::kFloat, at::kCPU);
  return model.ok() ? std::move(model).value() : nullptr;
}

// `samples` calibration windows of `seq` tokens, the first ones of one random document of
// ids below `vocab` (seeded: the same windows every call).
inline CalibrationSet RandomCalibration(int64_t samples, int64_t seq, int64_t vocab = 97) {
  std::vector<std::vector<int32_t>> docs(1);
  at::manual_seed(21);
  at::Tensor ids = at::randint(vocab, {samples * seq * 2}, at::kInt);
  docs[0].assign(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  CalibrationSpec spec;
  spec.samples = samples;
  spec.seq_len = seq;
  spec.mode = "first";
  return *DrawCalibration(docs, spec);
}

}  // namespace testing_models
}  // namespace llmq

#endif  // LLMQ_QUANT_TESTING_MODELS_H_
