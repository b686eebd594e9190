#include "model/gemv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "model/parallel.h"
#include "model/quantized_kernels.h"  // internal::KernelLevel

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLMQ_X86_KERNELS 1
#endif

namespace llmq {
namespace {

inline float ToFloat(float v) { return v; }
inline float ToFloat(c10::BFloat16 v) { return static_cast<float>(v); }

// Rows [o0, o1) in plain C++, four partial sums per row.
template <typename T>
void GemvPortable(const T* w, const float* x, int64_t in, int64_t o0, int64_t o1, float* y) {
  for (int64_t o = o0; o < o1; ++o) {
    const T* row = w + o * in;
    float acc[4] = {0, 0, 0, 0};
    int64_t c = 0;
    for (; c + 4 <= in; c += 4) {
      for (int k = 0; k < 4; ++k) acc[k] += ToFloat(row[c + k]) * x[c + k];
    }
    float total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; c < in; ++c) total += ToFloat(row[c]) * x[c];
    y[o] = total;
  }
}

#ifdef LLMQ_X86_KERNELS

#define LLMQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), optimize("O3")))
#define LLMQ_AVX2 __attribute__((target("avx2,fma"), optimize("O3")))

// 16 weights from row + c as float32, whole or masked.
LLMQ_AVX512 inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
LLMQ_AVX512 inline __m512 Load16(const c10::BFloat16* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
LLMQ_AVX512 inline __m512 Load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
LLMQ_AVX512 inline __m512 Load16(const c10::BFloat16* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Four rows at a time (x loaded once for all four), two accumulators each. -O3 (function
// attribute) unrolls the loops over the four rows, which -O2 leaves rolled.
template <typename T>
LLMQ_AVX512 void Gemv512(const T* w, const float* x, int64_t in, int64_t o0, int64_t o1, float* y) {
  int64_t o = o0;
  for (; o + 4 <= o1; o += 4) {
    const T* r[4] = {w + o * in, w + (o + 1) * in, w + (o + 2) * in, w + (o + 3) * in};
    __m512 a[4], b[4];
    for (int k = 0; k < 4; ++k) a[k] = b[k] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= in; c += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + c), x1 = _mm512_loadu_ps(x + c + 16);
      for (int k = 0; k < 4; ++k) {
        a[k] = _mm512_fmadd_ps(Load16(r[k] + c), x0, a[k]);
        b[k] = _mm512_fmadd_ps(Load16(r[k] + c + 16), x1, b[k]);
      }
    }
    for (; c < in; c += 16) {
      const __mmask16 m = static_cast<__mmask16>((1u << std::min<int64_t>(16, in - c)) - 1);
      const __m512 x0 = _mm512_maskz_loadu_ps(m, x + c);
      for (int k = 0; k < 4; ++k) a[k] = _mm512_fmadd_ps(Load16(r[k] + c, m), x0, a[k]);
    }
    for (int k = 0; k < 4; ++k) y[o + k] = _mm512_reduce_add_ps(_mm512_add_ps(a[k], b[k]));
  }
  for (; o < o1; ++o) {
    const T* row = w + o * in;
    __m512 a = _mm512_setzero_ps();
    for (int64_t c = 0; c < in; c += 16) {
      const __mmask16 m = static_cast<__mmask16>((1u << std::min<int64_t>(16, in - c)) - 1);
      a = _mm512_fmadd_ps(Load16(row + c, m), _mm512_maskz_loadu_ps(m, x + c), a);
    }
    y[o] = _mm512_reduce_add_ps(a);
  }
}

LLMQ_AVX2 inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
LLMQ_AVX2 inline __m256 Load8(const c10::BFloat16* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

LLMQ_AVX2 inline float Sum8(__m256 v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

template <typename T>
LLMQ_AVX2 void Gemv256(const T* w, const float* x, int64_t in, int64_t o0, int64_t o1, float* y) {
  int64_t o = o0;
  for (; o + 4 <= o1; o += 4) {
    const T* r[4] = {w + o * in, w + (o + 1) * in, w + (o + 2) * in, w + (o + 3) * in};
    __m256 a[4], b[4];
    for (int k = 0; k < 4; ++k) a[k] = b[k] = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 16 <= in; c += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + c), x1 = _mm256_loadu_ps(x + c + 8);
      for (int k = 0; k < 4; ++k) {
        a[k] = _mm256_fmadd_ps(Load8(r[k] + c), x0, a[k]);
        b[k] = _mm256_fmadd_ps(Load8(r[k] + c + 8), x1, b[k]);
      }
    }
    float tail[4] = {0, 0, 0, 0};
    for (; c < in; ++c) {
      for (int k = 0; k < 4; ++k) tail[k] += ToFloat(r[k][c]) * x[c];
    }
    for (int k = 0; k < 4; ++k) y[o + k] = Sum8(_mm256_add_ps(a[k], b[k])) + tail[k];
  }
  GemvPortable(w, x, in, o, o1, y);
}

#endif  // LLMQ_X86_KERNELS

template <typename T>
void Gemv(const T* w, const float* x, int64_t out, int64_t in, float* y) {
  const int level = internal::KernelLevel();
  // Whole blocks of four rows, at least ~64k weights per task.
  const int64_t grain = std::max<int64_t>(4, ((int64_t{1} << 16) / std::max<int64_t>(1, in) + 3) / 4 * 4);
  ParallelFor(0, (out + 3) / 4, std::max<int64_t>(1, grain / 4), [&](int64_t b0, int64_t b1) {
    const int64_t o0 = b0 * 4, o1 = std::min(out, b1 * 4);
#ifdef LLMQ_X86_KERNELS
    if (level >= 2) return Gemv512(w, x, in, o0, o1, y);
    if (level >= 1) return Gemv256(w, x, in, o0, o1, y);
#endif
    (void)level;
    GemvPortable(w, x, in, o0, o1, y);
  });
}

}  // namespace

void DenseGemv(const float* w, const float* x, int64_t out, int64_t in, float* y) {
  Gemv(w, x, out, in, y);
}

void DenseGemv(const c10::BFloat16* w, const c10::BFloat16* x, int64_t out, int64_t in, float* y) {
  std::vector<float> xf(in);
  for (int64_t c = 0; c < in; ++c) xf[c] = static_cast<float>(x[c]);
  Gemv(w, xf.data(), out, in, y);
}

}  // namespace llmq
