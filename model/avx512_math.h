// Float32 vector helpers for the AVX-512 kernel files that compile AVX-512 per function
// (fused_ops.cc, fused_attention.cc): exp, masked loads and stores of float32 and
// bfloat16, rounding to bfloat16 as c10 rounds. Always inlined into callers whose target
// attributes include AVX-512F/BW/VL and FMA (LLMQ_AVX512_FN). Include only on x86-64
// with GCC or Clang.
#ifndef LLMQ_MODEL_AVX512_MATH_H_
#define LLMQ_MODEL_AVX512_MATH_H_

#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <cstdint>

#define LLMQ_AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,fma"), optimize("O3")))
#define LLMQ_AVX512_INLINE \
  __attribute__((target("avx512f,avx512bw,avx512vl,fma"), always_inline)) inline

namespace llmq {
namespace internal {

// exp(x) (NaN stays NaN): x = n ln2 + r, |r| <= ln2 / 2, exp(r) by Cephes's degree-6 expf
// polynomial, then scaled by 2^n exactly (vscalefps: denormal results rounded once,
// overflow to infinity). Below -104 exp underflows to 0 in float32, above 89 it is
// infinite; clamping there also keeps n and r well-defined for the masked scores (-1e30).
LLMQ_AVX512_INLINE __m512 Exp512(__m512 x) {
  const __mmask16 zero = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-104.0f), _CMP_LT_OQ);
  // vmaxps / vminps return their second operand, x, for NaN.
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 r2 = _mm512_mul_ps(r, r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~zero), _mm512_scalef_ps(p, n));
}

inline __mmask16 Tail(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

LLMQ_AVX512_INLINE __m512 Load(const float* s, __mmask16 m) { return _mm512_maskz_loadu_ps(m, s); }
LLMQ_AVX512_INLINE __m512 Load(const c10::BFloat16* s, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, s)), 16));
}

// v as the dtype T holds it, back in float32: bfloat16 rounds to nearest even, a NaN
// becomes the quiet NaN c10 makes (0x7FC0), as c10::BFloat16's conversion does.
LLMQ_AVX512_INLINE __m512 RoundTo(float*, __m512 v) { return v; }
LLMQ_AVX512_INLINE __m512 RoundTo(c10::BFloat16*, __m512 v) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7FFF)), lsb),
                                     _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
  return _mm512_castsi512_ps(_mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                                                   _mm512_set1_epi32(0x7FC00000)));
}

LLMQ_AVX512_INLINE void Store(float* out, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(out, m, v); }
LLMQ_AVX512_INLINE void Store(c10::BFloat16* out, __m512 v, __mmask16 m) {
  const __m512i r = _mm512_srli_epi32(_mm512_castps_si512(RoundTo(out, v)), 16);
  _mm256_mask_storeu_epi16(out, m, _mm512_cvtepi32_epi16(r));
}

}  // namespace internal
}  // namespace llmq

#endif  // LLMQ_MODEL_AVX512_MATH_H_
