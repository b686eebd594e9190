// A decoder-only transformer in libtorch covering Llama (GQA, llama3 RoPE scaling),
// Qwen2 (q/k/v biases) and Phi (LayerNorm, partial rotary, parallel attention + MLP,
// gelu_new, biases). One top-down read: embed -> blocks -> final norm -> lm_head.
//
// Every linear is a `Linear` held in a named slot ("model.layers.3.self_attn.q_proj"),
// so quantizers can read and replace them. Device- and dtype-agnostic: the model runs
// where its tensors live. Not thread-safe: one forward at a time.
#ifndef LLMQ_MODEL_TRANSFORMER_H_
#define LLMQ_MODEL_TRANSFORMER_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/config.h"
#include "model/linear.h"

namespace llmq {

// RMSNorm (Llama, Qwen2) or LayerNorm with bias (Phi).
struct Norm {
  at::Tensor weight;  // (hidden)
  at::Tensor bias;    // (hidden) for LayerNorm, else undefined
  double eps = 1e-5;
  bool is_layernorm = false;
  at::Tensor Forward(const at::Tensor& x) const;  // (..., hidden) -> same
};

// One decoder block. For Phi, `up_proj` is fc1, `down_proj` is fc2 and `gate_proj` is
// null; `mlp_norm` is unused (attention and MLP share `attn_norm`).
struct DecoderBlock {
  Norm attn_norm;
  Norm mlp_norm;
  std::unique_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
  std::unique_ptr<Linear> gate_proj, up_proj, down_proj;
};

// Keys and values of earlier positions, for incremental decoding. Pre-allocated to a
// capacity; rows of a batch may hold different numbers of real tokens (padding).
struct KvCache {
  std::vector<at::Tensor> keys;    // per layer (batch, kv_heads, capacity, head_dim)
  std::vector<at::Tensor> values;  // per layer (batch, kv_heads, capacity, head_dim)
  at::Tensor key_mask;             // (batch, capacity) bool: slot holds a real token
  at::Tensor next_position;        // (batch) int64: RoPE position of the next real token
  int64_t length = 0;              // slots filled
  int64_t capacity() const { return key_mask.defined() ? key_mask.size(1) : 0; }
};

// A linear slot and its full name, for quantizers: replacing *slot swaps the layer.
struct NamedLinear {
  std::string name;                // HF tensor prefix, e.g. "model.layers.0.mlp.up_proj"
  std::unique_ptr<Linear>* slot;   // never null
  int layer;                       // block index, -1 for lm_head
};

// The positions, rotary tables and mask shared by all blocks of one forward call.
struct ForwardContext {
  at::Tensor cos, sin;   // (batch, seq, rotary_dim) in compute dtype
  at::Tensor key_mask;   // (batch, past + seq) bool: the slot holds a real token
  int64_t past = 0;      // cache slots before this call
  // (batch, 1, 1, seq, past + seq) float: 0 where query i may attend to slot j (a real
  // token at j <= past + i), else a large negative. Built on first use: only the ATen
  // attention path reads it.
  const at::Tensor& AdditiveMask() const;

 private:
  mutable at::Tensor additive_mask_;
};

// Weights by HF tensor name ("model.embed_tokens.weight"); NotFound when absent.
using WeightLookup = std::function<absl::StatusOr<at::Tensor>(const std::string&)>;

class CausalLM {
 public:
  // Builds the model from `weights`, converting each tensor to `dtype` on `device`.
  // Shapes are checked against `config`; errors name the tensor.
  static absl::StatusOr<std::unique_ptr<CausalLM>> Create(const ModelConfig& config,
                                                          const WeightLookup& weights,
                                                          at::ScalarType dtype,
                                                          at::Device device);

  // tokens: (batch, seq) int64. attention_mask: (batch, seq), 1 for real tokens, 0 for
  // padding (left or right), or undefined for all ones. With a cache, the call appends to
  // it. Returns float32 logits (batch, seq, vocab), or (batch, 1, vocab) for the last
  // position only when `last_only`.
  at::Tensor Forward(const at::Tensor& tokens, const at::Tensor& attention_mask,
                     KvCache* cache = nullptr, bool last_only = false);

  // The last block's output (batch, seq, hidden), before the final norm; Logits() of
  // slices of it gives Forward's logits without holding (batch, seq, vocab) at once.
  at::Tensor ForwardHidden(const at::Tensor& tokens, const at::Tensor& attention_mask,
                           KvCache* cache = nullptr);

  // An empty cache for `batch` rows and up to `capacity` positions.
  KvCache NewCache(int64_t batch, int64_t capacity) const;

  // The pieces of Forward, for layer-by-layer work (calibration, quantization).
  at::Tensor Embed(const at::Tensor& tokens) const;  // (batch, seq) -> (batch, seq, hidden)
  ForwardContext MakeContext(const at::Tensor& attention_mask, int64_t batch, int64_t seq,
                             KvCache* cache) const;
  at::Tensor RunBlock(int layer, const at::Tensor& hidden, const ForwardContext& ctx,
                      KvCache* cache = nullptr);  // (batch, seq, hidden) -> same
  // RunBlock's steps, for drivers that keep activations between passes. With b = block(layer):
  //   heads = AttentionHeads(layer, b.attn_norm.Forward(hidden), ctx)   (o_proj's input)
  //   Llama, Qwen2: x = hidden + b.o_proj->Forward(heads)
  //                 out = x + b.down_proj->Forward(MlpActivation(layer, b.mlp_norm.Forward(x)))
  //   Phi:          out = hidden + b.o_proj->Forward(heads)
  //                       + b.down_proj->Forward(MlpActivation(layer, b.attn_norm.Forward(hidden)))
  // AttentionHeads: q/k/v, rotary, causal softmax mixing: (batch, seq, heads * head_dim).
  at::Tensor AttentionHeads(int layer, const at::Tensor& normed, const ForwardContext& ctx,
                            KvCache* cache = nullptr);
  // MlpActivation: act(gate(x)) * up(x), or Phi's gelu(fc1(x)): down_proj's input.
  at::Tensor MlpActivation(int layer, const at::Tensor& normed) const;
  at::Tensor Logits(const at::Tensor& hidden) const;  // -> float32 (batch, seq, vocab)

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const;
  int num_layers() const { return static_cast<int>(blocks_.size()); }
  DecoderBlock& block(int layer) { return blocks_[layer]; }
  Norm& final_norm() { return final_norm_; }
  at::Tensor& embedding() { return embed_; }

  // All linear slots, blocks in order then lm_head.
  std::vector<NamedLinear> Linears();
  // Bytes of every parameter held (embedding, norms, linears as they are stored).
  int64_t WeightBytes() const;
  // Parameters, counting the tied embedding once.
  int64_t ParameterCount() const;

 private:
  CausalLM(ModelConfig config, at::ScalarType dtype) : config_(std::move(config)), dtype_(dtype) {}

  ModelConfig config_;
  at::ScalarType dtype_;
  at::Tensor embed_;       // (vocab, hidden)
  at::Tensor inv_freq_;    // (rotary_dim / 2) float32
  std::vector<DecoderBlock> blocks_;
  Norm final_norm_;
  std::unique_ptr<Linear> lm_head_;
  bool lm_head_tied_ = false;
};

}  // namespace llmq

#endif  // LLMQ_MODEL_TRANSFORMER_H_
