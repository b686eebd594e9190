// Causal self-attention on the CPU in one AVX-512 pass per (batch row, KV head, block of
// queries): scores, softmax and the weighted sum of values without the (queries x keys)
// tensors ATen's path writes and reads back, and written straight into the layout o_proj
// reads. Replaces, where it applies, transformer.cc's chunked ATen path (two batched
// products, the masked softmax, a cat and a transpose).
//
// Its sums are the same whatever the padding: each query's keys are its row's real keys
// (key_mask) up to its own slot, taken in slot order and numbered from 0 with the padding
// left out, and every sum runs over that numbering in one fixed order (a score: the
// head_dim products in order; the softmax's sum: 16 lanes by key number, then one fixed
// tree; the values: key by key, in blocks of 64 keys counted from the first). So a request
// scores bit for bit the same whether its context sits in a KV cache behind left padding
// (context reuse), in a right-padded batch or alone. ATen's products sum in orders that
// depend on the key count and the slots' positions: context reuse differed from scoring
// alone by up to 1.0e-5 in a BoolQ log-likelihood on stories260K (float32), where the
// same requests with float64 attention agree exactly; with this kernel they agree exactly.
//
// Float32: FMAs in registers (6 queries x 64 keys for the scores, up to 8 queries x 128
// features for the values). Bfloat16 on CPUs with AMX-BF16 and head_dim a multiple of 32:
// the scores and the value sums on the tiles, the softmax numerators rounded to bfloat16
// for the latter (as ATen's bfloat16 path rounds the probabilities; the tiles also treat
// denormal numerators, below e^-87 of the row's largest, as 0); other bfloat16 cases
// convert to float32 and take the FMAs. Per thread it holds the scores of one block of
// 48 query vectors over all its keys (48 x keys floats, and as many bfloat16 on the
// tiles: 9 MB at 32k keys). Measured on a
// 2-core AVX-512/AMX Xeon, Llama-3.2-1B-shaped prefill of 2048 tokens, ATen's path vs this
// one in the same binary, interleaved: float32 126-137 -> 139-140 tokens/s, bfloat16
// 409-421 -> 435-480; one layer's attention alone: float32 ~95 ms, bfloat16 ~47 ms on
// the tiles (~89 with FMAs; 49 -> 42 ms with the scratch on 64-byte boundaries).
#ifndef LLMQ_MODEL_FUSED_ATTENTION_H_
#define LLMQ_MODEL_FUSED_ATTENTION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace llmq {

// softmax(scale * q k^T over the allowed keys) v, in float32, for
//   q:  (batch, heads, seq, head_dim), float32 or bfloat16, last dimension contiguous
//       (other strides free: the projection's transposed view);
//   k, v: (batch, kv_heads, past + seq, head_dim), q's dtype, last dimension contiguous
//       (a KV cache's slots, or the projections' views); heads % kv_heads == 0, query head
//       h reads KV head h / (heads / kv_heads);
//   key_mask: (batch, past + seq) bool, true where a slot holds a real token.
// Query i sits at slot past + i and attends to the real slots <= past + i. Scores,
// softmax and sums in float32 (bfloat16 inputs converted exactly), the result rounded
// once to q's dtype: (batch, seq, heads * head_dim), contiguous. A query with no real key
// before it (left padding) gets zeros. Padding slots are never read; a non-finite value
// of a later real key can, as in ATen's products, reach earlier queries (0 x inf). Returns an undefined tensor, doing nothing, where
// the CPU lacks AVX-512 or the arguments are other than these: the caller then uses ATen.
at::Tensor FusedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& key_mask, int64_t past, double scale);

}  // namespace llmq

#endif  // LLMQ_MODEL_FUSED_ATTENTION_H_
