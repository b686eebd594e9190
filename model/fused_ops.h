// Attention's softmax on CPU in one pass over the scores: what transformer.cc did with four
// ATen ops (scores to float32, mask + scale * scores, softmax, probabilities back to the
// compute dtype), each a pass over a (heads x rows x keys) matrix. In the Llama-1B-shaped
// bfloat16 prefill of 2048 tokens those four took ~30 % of the time (softmax 18 %, the
// conversions 13 %), more than the attention products themselves.
#ifndef LLMQ_MODEL_FUSED_OPS_H_
#define LLMQ_MODEL_FUSED_OPS_H_

#include <ATen/core/Tensor.h>

namespace llmq {

// probs = softmax over the last dimension of (mask + scale * scores), in float32, returned
// in `out_dtype` (rounded once, to nearest even). scores: (batch, heads, group, rows, keys)
// float32 or bfloat16 on the CPU, contiguous; mask: float32, (batch, 1, 1, rows, keys)
// with any strides (an additive mask: 0 where allowed, a large negative number where not).
// out_dtype: float32 or bfloat16. Per row: the maximum, exp(v - max) (a degree-6
// polynomial after range reduction, within 1 ulp of float32's exp where ATen's SLEEF
// exp is too; 0 below -104, as SLEEF), their sum, and v / sum as v * (1 / sum), as ATen's
// softmax computes it. Returns an undefined tensor, doing nothing, where the CPU lacks
// AVX-512 or the arguments are other than these: the caller then uses the ATen ops.
at::Tensor MaskedSoftmax(const at::Tensor& scores, const at::Tensor& mask, double scale,
                         at::ScalarType out_dtype);

}  // namespace llmq

#endif  // LLMQ_MODEL_FUSED_OPS_H_
