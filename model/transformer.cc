#include "model/transformer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/fused_attention.h"
#include "model/fused_ops.h"

namespace llmq {
namespace {

constexpr float kMaskedScore = -1e30f;  // finite, so fully masked (padding) rows stay finite

// (..., 2k) -> (-x[..., k:], x[..., :k]): Hugging Face's rotate_half.
at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// x: (batch, heads, seq, head_dim); cos/sin: (batch, 1, seq, rotary_dim). Rotates the first
// rotary_dim features of each head, passes the rest (Phi's partial rotary).
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor fused = ApplyRotary(x, cos, sin);  // one pass (model/fused_ops.h)
  if (fused.defined()) return fused;
  const int64_t rotary_dim = cos.size(-1);
  if (rotary_dim == x.size(-1)) return x * cos + RotateHalf(x) * sin;
  at::Tensor rot = x.narrow(-1, 0, rotary_dim);
  at::Tensor pass = x.narrow(-1, rotary_dim, x.size(-1) - rotary_dim);
  return at::cat({rot * cos + RotateHalf(rot) * sin, pass}, -1);
}

// Inverse RoPE frequencies (rotary_dim / 2), float32, with Llama-3 scaling if configured.
at::Tensor InverseFrequencies(const ModelConfig& c) {
  const int64_t dim = c.rotary_dim();
  at::Tensor exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<float>(dim);
  at::Tensor inv_freq = 1.0 / at::pow(static_cast<double>(c.rope_theta), exponents);
  if (!c.llama3_rope_scaling) return inv_freq.to(at::kFloat);
  // Llama 3.1: long wavelengths divided by `factor`, short ones kept, a smooth blend between.
  const Llama3RopeScaling& s = *c.llama3_rope_scaling;
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) /
                      (s.high_freq_factor - s.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(is_medium, smoothed, scaled).to(at::kFloat);
}

// Looks a tensor up, checks its shape and converts it to the model's dtype and device.
class WeightLoader {
 public:
  WeightLoader(const WeightLookup& lookup, at::ScalarType dtype, at::Device device)
      : lookup_(lookup), dtype_(dtype), device_(device) {}

  absl::StatusOr<at::Tensor> Get(const std::string& name, std::vector<int64_t> shape) {
    LLMQ_ASSIGN_OR_RETURN(at::Tensor t, lookup_(name));
    if (t.sizes().vec() != shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' has shape [", absl::StrJoin(t.sizes().vec(), ", "),
                       "], expected [", absl::StrJoin(shape, ", "), "]"));
    }
    if (!at::isFloatingType(t.scalar_type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' is not floating point"));
    }
    return t.to(device_, dtype_).contiguous();
  }

  absl::StatusOr<std::unique_ptr<Linear>> GetLinear(const std::string& prefix, int64_t out,
                                                    int64_t in, bool has_bias) {
    LLMQ_ASSIGN_OR_RETURN(at::Tensor w, Get(prefix + ".weight", {out, in}));
    at::Tensor b;
    if (has_bias) {
      LLMQ_ASSIGN_OR_RETURN(b, Get(prefix + ".bias", {out}));
    }
    return std::unique_ptr<Linear>(new DenseLinear(std::move(w), std::move(b)));
  }

  absl::StatusOr<Norm> GetNorm(const std::string& prefix, int64_t hidden, const ModelConfig& c) {
    Norm n;
    n.eps = c.norm_eps;
    n.is_layernorm = c.uses_layernorm();
    LLMQ_ASSIGN_OR_RETURN(n.weight, Get(prefix + ".weight", {hidden}));
    if (n.is_layernorm) {
      LLMQ_ASSIGN_OR_RETURN(n.bias, Get(prefix + ".bias", {hidden}));
    }
    return n;
  }

 private:
  const WeightLookup& lookup_;
  at::ScalarType dtype_;
  at::Device device_;
};

int64_t TensorBytes(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0;
}

}  // namespace

at::Tensor Norm::Forward(const at::Tensor& x) const {
  if (is_layernorm) return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
  // RMSNorm in float32, scaled in the input dtype (as Hugging Face's LlamaRMSNorm): one
  // pass on CPUs with AVX-512 (model/fused_ops.h), else with ATen ops.
  at::Tensor fused = RmsNorm(x, weight, eps);
  if (fused.defined()) return fused;
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

absl::StatusOr<std::unique_ptr<CausalLM>> CausalLM::Create(const ModelConfig& config,
                                                           const WeightLookup& weights,
                                                           at::ScalarType dtype,
                                                           at::Device device) {
  return CatchExceptions("building model", [&]() -> absl::StatusOr<std::unique_ptr<CausalLM>> {
    const ModelConfig& c = config;
    std::unique_ptr<CausalLM> m(new CausalLM(config, dtype));
    WeightLoader w(weights, dtype, device);
    const int64_t h = c.hidden_size, q_dim = c.num_heads * c.head_dim,
                  kv_dim = c.num_kv_heads * c.head_dim, ff = c.intermediate_size;
    LLMQ_ASSIGN_OR_RETURN(m->embed_, w.Get("model.embed_tokens.weight", {c.vocab_size, h}));
    const bool phi = c.arch == Architecture::kPhi;
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string p = absl::StrCat("model.layers.", i, ".");
      DecoderBlock b;
      LLMQ_ASSIGN_OR_RETURN(b.attn_norm, w.GetNorm(p + "input_layernorm", h, c));
      if (!c.parallel_residual()) {
        LLMQ_ASSIGN_OR_RETURN(b.mlp_norm, w.GetNorm(p + "post_attention_layernorm", h, c));
      }
      LLMQ_ASSIGN_OR_RETURN(b.q_proj, w.GetLinear(p + "self_attn.q_proj", q_dim, h, c.attention_bias));
      LLMQ_ASSIGN_OR_RETURN(b.k_proj, w.GetLinear(p + "self_attn.k_proj", kv_dim, h, c.attention_bias));
      LLMQ_ASSIGN_OR_RETURN(b.v_proj, w.GetLinear(p + "self_attn.v_proj", kv_dim, h, c.attention_bias));
      LLMQ_ASSIGN_OR_RETURN(b.o_proj, w.GetLinear(p + (phi ? "self_attn.dense" : "self_attn.o_proj"),
                                                  h, q_dim, c.output_bias));
      if (c.gated_mlp()) {
        LLMQ_ASSIGN_OR_RETURN(b.gate_proj, w.GetLinear(p + "mlp.gate_proj", ff, h, c.mlp_bias));
        LLMQ_ASSIGN_OR_RETURN(b.up_proj, w.GetLinear(p + "mlp.up_proj", ff, h, c.mlp_bias));
        LLMQ_ASSIGN_OR_RETURN(b.down_proj, w.GetLinear(p + "mlp.down_proj", h, ff, c.mlp_bias));
      } else {
        LLMQ_ASSIGN_OR_RETURN(b.up_proj, w.GetLinear(p + "mlp.fc1", ff, h, c.mlp_bias));
        LLMQ_ASSIGN_OR_RETURN(b.down_proj, w.GetLinear(p + "mlp.fc2", h, ff, c.mlp_bias));
      }
      m->blocks_.push_back(std::move(b));
    }
    LLMQ_ASSIGN_OR_RETURN(m->final_norm_,
                          w.GetNorm(phi ? "model.final_layernorm" : "model.norm", h, c));
    if (c.tie_word_embeddings) {
      at::Tensor bias;
      if (c.lm_head_bias) {
        LLMQ_ASSIGN_OR_RETURN(bias, w.Get("lm_head.bias", {c.vocab_size}));
      }
      m->lm_head_ = std::make_unique<DenseLinear>(m->embed_, bias);
      m->lm_head_tied_ = true;
    } else {
      LLMQ_ASSIGN_OR_RETURN(m->lm_head_, w.GetLinear("lm_head", c.vocab_size, h, c.lm_head_bias));
    }
    m->inv_freq_ = InverseFrequencies(c).to(device);
    return m;
  });
}

at::Device CausalLM::device() const { return embed_.device(); }

KvCache CausalLM::NewCache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  const auto options = embed_.options();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    cache.keys.push_back(at::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, options));
    cache.values.push_back(at::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, options));
  }
  cache.key_mask = at::zeros({batch, capacity}, options.dtype(at::kBool));
  cache.next_position = at::zeros({batch}, options.dtype(at::kLong));
  return cache;
}

at::Tensor CausalLM::Embed(const at::Tensor& tokens) const {
  return at::embedding(embed_, tokens.to(embed_.device(), at::kLong));
}

ForwardContext CausalLM::MakeContext(const at::Tensor& attention_mask, int64_t batch,
                                     int64_t seq, KvCache* cache) const {
  const at::Device dev = device();
  at::Tensor mask = attention_mask.defined()
                        ? attention_mask.to(dev).to(at::kBool)
                        : at::ones({batch, seq}, at::TensorOptions().dtype(at::kBool).device(dev));
  // Position of each token = number of real tokens before it in its row.
  at::Tensor positions = at::cumsum(mask.to(at::kLong), 1) - 1;  // (batch, seq)
  ForwardContext ctx;
  at::Tensor key_mask = mask;
  if (cache != nullptr) {
    ctx.past = cache->length;
    positions = positions + cache->next_position.unsqueeze(1);
    cache->key_mask.narrow(1, ctx.past, seq).copy_(mask);
    cache->next_position.add_(mask.to(at::kLong).sum(1));
    key_mask = cache->key_mask.narrow(1, 0, ctx.past + seq);
  }
  positions = positions.clamp_min(0);
  at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_;  // (batch, seq, rd/2)
  at::Tensor emb = at::cat({freqs, freqs}, -1);                          // (batch, seq, rd)
  ctx.cos = emb.cos().to(dtype_).unsqueeze(1);                           // (batch, 1, seq, rd)
  ctx.sin = emb.sin().to(dtype_).unsqueeze(1);
  ctx.key_mask = key_mask;
  return ctx;
}

const at::Tensor& ForwardContext::AdditiveMask() const {
  if (additive_mask_.defined()) return additive_mask_;
  const int64_t batch = key_mask.size(0), total = key_mask.size(1), seq = total - past;
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(key_mask.device());
  at::Tensor causal = at::arange(total, long_opts).unsqueeze(0) <=
                      (at::arange(seq, long_opts) + past).unsqueeze(1);  // (seq, total)
  at::Tensor allowed = causal.unsqueeze(0).logical_and(key_mask.unsqueeze(1));  // (batch, seq, total)
  additive_mask_ = at::zeros({batch, seq, total}, at::TensorOptions().dtype(at::kFloat).device(key_mask.device()))
                       .masked_fill_(allowed.logical_not(), kMaskedScore)
                       .view({batch, 1, 1, seq, total});
  return additive_mask_;
}

at::Tensor CausalLM::AttentionHeads(int layer, const at::Tensor& x, const ForwardContext& ctx,
                                    KvCache* cache) {
  DecoderBlock& b = blocks_[layer];
  const ModelConfig& c = config_;
  const int64_t batch = x.size(0), seq = x.size(1), hd = c.head_dim;
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, group = nh / nkv;
  at::Tensor q = b.q_proj->Forward(x).view({batch, seq, nh, hd}).transpose(1, 2);
  at::Tensor k = b.k_proj->Forward(x).view({batch, seq, nkv, hd}).transpose(1, 2);
  at::Tensor v = b.v_proj->Forward(x).view({batch, seq, nkv, hd}).transpose(1, 2);
  q = ApplyRope(q, ctx.cos, ctx.sin);  // (batch, nh, seq, hd)
  k = ApplyRope(k, ctx.cos, ctx.sin);  // (batch, nkv, seq, hd)
  if (cache != nullptr) {
    cache->keys[layer].narrow(2, ctx.past, seq).copy_(k);
    cache->values[layer].narrow(2, ctx.past, seq).copy_(v);
    k = cache->keys[layer].narrow(2, 0, ctx.past + seq);
    v = cache->values[layer].narrow(2, 0, ctx.past + seq);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // One pass per (batch row, KV head, query block) on CPUs with AVX-512, its sums
  // independent of padding and cache layout (model/fused_attention.h); else ATen ops.
  at::Tensor fused = FusedCausalAttention(q, k, v, ctx.key_mask, ctx.past, scale);
  if (fused.defined()) return fused;
  // Queries in chunks: chunk c attends only to keys up to its last position (the rest
  // are causally masked anyway), which skips about half of the score matrix and bounds
  // its memory to (chunk x keys) per head.
  constexpr int64_t kQueryChunk = 128;
  std::vector<at::Tensor> outs;
  for (int64_t start = 0; start < seq; start += kQueryChunk) {
    const int64_t rows = std::min(kQueryChunk, seq - start);
    const int64_t keys = ctx.past + start + rows;
    // Query heads h*group .. h*group+group-1 share KV head h: fold the group into the rows.
    at::Tensor qg = q.narrow(2, start, rows).reshape({batch, nkv, group * rows, hd});
    at::Tensor kc = k.narrow(2, 0, keys), vc = v.narrow(2, 0, keys);
    at::Tensor scores = at::matmul(qg, kc.transpose(2, 3));  // (batch, nkv, group*rows, keys)
    scores = scores.view({batch, nkv, group, rows, keys});
    const at::Tensor mask = ctx.AdditiveMask().narrow(3, start, rows).narrow(4, 0, keys);
    // softmax(mask + scale · scores) in float32 (mask and scale in one pass).
    at::Tensor s32 = scores.to(at::kFloat);
    at::add_out(s32, mask, s32, scale);
    const at::Tensor probs = at::softmax(s32, -1).to(x.scalar_type());
    outs.push_back(at::matmul(probs.view({batch, nkv, group * rows, keys}), vc)
                       .view({batch, nh, rows, hd}));  // (batch, nh, rows, hd)
  }
  at::Tensor out = outs.size() == 1 ? outs[0] : at::cat(outs, 2);  // (batch, nh, seq, hd)
  return out.transpose(1, 2).reshape({batch, seq, nh * hd});
}

at::Tensor CausalLM::MlpActivation(int layer, const at::Tensor& x) const {
  const DecoderBlock& b = blocks_[layer];
  if (b.gate_proj) {
    at::Tensor gate = b.gate_proj->Forward(x);  // in place: no (tokens, ff) temporaries
    const at::Tensor up = b.up_proj->Forward(x);
    if (SiluMulInPlace(gate, up)) return gate;  // one pass (model/fused_ops.h)
    return at::silu_(gate).mul_(up);
  }
  return at::gelu(b.up_proj->Forward(x), "tanh");
}

at::Tensor CausalLM::RunBlock(int layer, const at::Tensor& hidden, const ForwardContext& ctx,
                              KvCache* cache) {
  DecoderBlock& b = blocks_[layer];
  if (config_.parallel_residual()) {
    at::Tensor h = b.attn_norm.Forward(hidden);
    return hidden + b.o_proj->Forward(AttentionHeads(layer, h, ctx, cache)) +
           b.down_proj->Forward(MlpActivation(layer, h));
  }
  at::Tensor x = hidden + b.o_proj->Forward(AttentionHeads(layer, b.attn_norm.Forward(hidden), ctx, cache));
  return x + b.down_proj->Forward(MlpActivation(layer, b.mlp_norm.Forward(x)));
}

at::Tensor CausalLM::Logits(const at::Tensor& hidden) const {
  return lm_head_->Forward(final_norm_.Forward(hidden)).to(at::kFloat);
}

at::Tensor CausalLM::ForwardHidden(const at::Tensor& tokens, const at::Tensor& attention_mask,
                                   KvCache* cache) {
  const int64_t batch = tokens.size(0), seq = tokens.size(1);
  ForwardContext ctx = MakeContext(attention_mask, batch, seq, cache);
  at::Tensor h = Embed(tokens);  // (batch, seq, hidden)
  for (int i = 0; i < num_layers(); ++i) h = RunBlock(i, h, ctx, cache);
  if (cache != nullptr) cache->length += seq;
  return h;
}

at::Tensor CausalLM::Forward(const at::Tensor& tokens, const at::Tensor& attention_mask,
                             KvCache* cache, bool last_only) {
  at::Tensor h = ForwardHidden(tokens, attention_mask, cache);
  if (last_only) h = h.narrow(1, h.size(1) - 1, 1);
  return Logits(h);
}

std::vector<NamedLinear> CausalLM::Linears() {
  std::vector<NamedLinear> out;
  const bool phi = config_.arch == Architecture::kPhi;
  for (int i = 0; i < num_layers(); ++i) {
    DecoderBlock& b = blocks_[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    out.push_back({p + "self_attn.q_proj", &b.q_proj, i});
    out.push_back({p + "self_attn.k_proj", &b.k_proj, i});
    out.push_back({p + "self_attn.v_proj", &b.v_proj, i});
    out.push_back({p + (phi ? "self_attn.dense" : "self_attn.o_proj"), &b.o_proj, i});
    if (b.gate_proj) out.push_back({p + "mlp.gate_proj", &b.gate_proj, i});
    out.push_back({p + (phi ? "mlp.fc1" : "mlp.up_proj"), &b.up_proj, i});
    out.push_back({p + (phi ? "mlp.fc2" : "mlp.down_proj"), &b.down_proj, i});
  }
  out.push_back({"lm_head", &lm_head_, -1});
  return out;
}

int64_t CausalLM::WeightBytes() const {
  int64_t bytes = TensorBytes(embed_) + TensorBytes(final_norm_.weight) + TensorBytes(final_norm_.bias);
  for (const DecoderBlock& b : blocks_) {
    for (const Norm* n : {&b.attn_norm, &b.mlp_norm}) bytes += TensorBytes(n->weight) + TensorBytes(n->bias);
    for (const auto* l : {&b.q_proj, &b.k_proj, &b.v_proj, &b.o_proj, &b.gate_proj, &b.up_proj, &b.down_proj}) {
      if (*l) bytes += (*l)->WeightBytes();
    }
  }
  bytes += lm_head_->WeightBytes();
  // A tied, still-dense lm_head shares the embedding's storage: count it once.
  auto* dense = dynamic_cast<DenseLinear*>(lm_head_.get());
  if (dense != nullptr && dense->weight().is_same(embed_)) bytes -= TensorBytes(embed_);
  return bytes;
}

int64_t CausalLM::ParameterCount() const {
  int64_t n = embed_.numel() + final_norm_.weight.numel();
  for (const DecoderBlock& b : blocks_) {
    n += b.attn_norm.weight.numel() + (b.mlp_norm.weight.defined() ? b.mlp_norm.weight.numel() : 0);
    for (const auto* l : {&b.q_proj, &b.k_proj, &b.v_proj, &b.o_proj, &b.gate_proj, &b.up_proj, &b.down_proj}) {
      if (*l) n += (*l)->ParameterCount();
    }
  }
  auto* dense = dynamic_cast<DenseLinear*>(lm_head_.get());
  if (!(dense != nullptr && dense->weight().is_same(embed_))) n += lm_head_->ParameterCount();
  return n;
}

}  // namespace llmq
