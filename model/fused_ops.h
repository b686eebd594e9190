// The transformer's element-wise steps on CPU as one AVX-512 pass each, where ATen runs
// several passes (and, for bfloat16, conversions between them): the rotary embedding, the
// RMSNorm, the gated MLP's activation (attention's softmax lives in the fused attention,
// model/fused_attention.h). Each computes the same float32 formula as the ATen ops
// transformer.cc ran before, with the same roundings to the compute dtype, and returns an
// undefined tensor (false) where it does not apply (no AVX-512, not the CPU, other dtypes
// or layouts): the caller then runs the ATen ops. In the Llama-1B-shaped float32 prefill
// of 2048 tokens the rotary embedding's ops (a cat over strided halves among them) took
// ~4 % of the time.
#ifndef LLMQ_MODEL_FUSED_OPS_H_
#define LLMQ_MODEL_FUSED_OPS_H_

#include <ATen/core/Tensor.h>

namespace llmq {

// Rotary embedding as Hugging Face applies it: x (batch, heads, seq, hd), float32 or
// bfloat16, last dimension contiguous (any other strides: the projections' transposed
// views); cos, sin (batch, 1, seq, rd) of x's dtype, rd even and <= hd. The first rd
// features of each head become x cos + rotate_half(x) sin (rotate_half: (-x[rd/2:],
// x[:rd/2])), each product and the sum rounded to the dtype as the ATen ops round them
// (so the result is theirs bit for bit); the rest are copied (Phi's partial rotary). The
// result has x's layout.
at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// RMSNorm as Hugging Face's LlamaRMSNorm: per row of x (..., n), float32 or bfloat16 and
// contiguous, x * (1 / sqrt(mean(x^2) + eps)) in float32, rounded to x's dtype, times
// weight (n, x's dtype), rounded again.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// gate = silu(gate) * up in place (silu(g) = g / (1 + exp(-g)) rounded to the dtype, then
// the product rounded: ATen's silu_ followed by mul_). Same shapes and dtype, contiguous.
bool SiluMulInPlace(at::Tensor& gate, const at::Tensor& up);

}  // namespace llmq

#endif  // LLMQ_MODEL_FUSED_OPS_H_
