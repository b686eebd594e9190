// Small hot loops of the packed-weight kernels, written plainly and compiled several
// times: the build targets baseline x86-64 at -O2 (which vectorises little), so on
// x86-64 each function is cloned for AVX-512 and AVX2 at -O3 and the CPU picks one at
// load time (GCC/Clang target_clones). Elsewhere they are ordinary functions.
#ifndef LLMQ_MODEL_VECTOR_LOOPS_H_
#define LLMQ_MODEL_VECTOR_LOOPS_H_

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define LLMQ_VECTOR_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
#else
#define LLMQ_VECTOR_CLONES
#endif

namespace llmq {

// out[c] = s[g] * (q[c] - z[g]) for column c in group g = c / group_size.
void DequantizeByGroup(const uint8_t* q, const float* s, const uint8_t* z, int64_t n,
                       int64_t group_size, float* out);
// The same with g = g_idx[c].
void DequantizeByIndex(const uint8_t* q, const float* s, const uint8_t* z, const int32_t* g_idx,
                       int64_t n, float* out);
// sum_c a[c] * b[c], in float32 with 16 partial sums.
float DotF32(const float* a, const float* b, int64_t n);
// max |x[c]| over n values (0 when n is 0).
float AbsMax(const float* x, int64_t n);
// codes[c] = clamp(nearbyint(x[c] / scale), -q, q): at::clamp(at::round(x / scale), -q, q)
// converted to int8, bit for bit.
void RoundToInt8(const float* x, int64_t n, float scale, float q, int8_t* codes);
// y[c] = float(v[c]) * row_scale * col_scales[c], the products in that order.
void ScaleInt32(const int32_t* v, int64_t n, float row_scale, const float* col_scales, float* y);
// Rounds to nearest even, as c10's conversions do.
void ConvertFloats(const float* in, int64_t n, c10::BFloat16* out);
void ConvertFloats(const float* in, int64_t n, c10::Half* out);

}  // namespace llmq

#endif  // LLMQ_MODEL_VECTOR_LOOPS_H_
