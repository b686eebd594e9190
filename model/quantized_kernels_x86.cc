// The 4-bit fused matvec with AVX-512 / AVX2 intrinsics. The build targets baseline
// x86-64, so each kernel carries its own target attribute and runs only after a cpuid
// check; other architectures get stubs that decline.
//
// Per output row o and group g (columns [c0, c1)):
//   dot_g[r] = sum_c q[o,c] x[r,c]   (low nibbles meet x_even, high nibbles x_odd)
//   y[r,o]  = sum_g s[o,g] dot_g[r] - s[o,g] z[o,g] xsum[r,g]
// Groups may start and end at odd columns and have any length: whole 16-byte blocks go
// through the vector loop, the rest through masked loads (AVX-512) or scalar code.
#include <algorithm>
#include <vector>

#include "model/packing.h"
#include "model/quantized_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLMQ_X86_KERNELS 1
#endif

namespace llmq {
namespace internal {

#ifdef LLMQ_X86_KERNELS

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

namespace {

#define LLMQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define LLMQ_AVX2 __attribute__((target("avx2,fma")))

// Scalar contribution of the codes in [c, c1) to sums[r], used for group edges.
inline void ScalarCodes(const uint8_t* row, int64_t c, int64_t c1, const float* const* xe,
                        const float* const* xo, int rows, float* sums) {
  for (; c < c1; ++c) {
    const uint8_t byte = row[c >> 1];
    const float q = static_cast<float>(c & 1 ? byte >> 4 : byte & 0xF);
    const float* const* xs = c & 1 ? xo : xe;
    for (int r = 0; r < rows; ++r) sums[r] += q * xs[r][c >> 1];
  }
}

template <int R>
LLMQ_AVX512 void Kernel512(const PackedWeights& w, const float* const* xe, const float* const* xo,
                           const float* xsum, int64_t o0, int64_t o1, float* y) {
  std::vector<uint8_t> zbuf(w.groups);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.codes + o * w.code_row_bytes;
    UnpackRow(w.zeros + o * w.zero_row_bytes, 4, 0, w.groups, zbuf.data());
    const c10::Half* srow = w.scales + o * w.groups;
    __m512 total[R];
    float offset[R];
    for (int r = 0; r < R; ++r) {
      total[r] = _mm512_setzero_ps();
      offset[r] = 0.0f;
    }
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
      const float s = static_cast<float>(srow[g]);
      const float sz = s * static_cast<float>(zbuf[g]);
      __m512 acc_lo[R], acc_hi[R];
      float edge[R];
      for (int r = 0; r < R; ++r) {
        acc_lo[r] = _mm512_setzero_ps();
        acc_hi[r] = _mm512_setzero_ps();
        edge[r] = 0.0f;
      }
      int64_t c = c0;
      if (c & 1) {  // a group starting on a high nibble
        ScalarCodes(row, c, c + 1, xe, xo, R, edge);
        ++c;
      }
      for (; c + 32 <= c1; c += 32) {  // 16 bytes = 32 codes
        const int64_t b = c >> 1;
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + b));
        const __m128i lo = _mm_and_si128(v, low4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
        const __m512 qlo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
        const __m512 qhi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
        for (int r = 0; r < R; ++r) {
          acc_lo[r] = _mm512_fmadd_ps(qlo, _mm512_loadu_ps(xe[r] + b), acc_lo[r]);
          acc_hi[r] = _mm512_fmadd_ps(qhi, _mm512_loadu_ps(xo[r] + b), acc_hi[r]);
        }
      }
      const int64_t pairs = (c1 - c) / 2;  // < 16 whole bytes left
      if (pairs > 0) {
        const int64_t b = c >> 1;
        const __mmask16 m = static_cast<__mmask16>((1u << pairs) - 1);
        const __m128i v = _mm_maskz_loadu_epi8(m, row + b);
        const __m128i lo = _mm_and_si128(v, low4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
        const __m512 qlo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
        const __m512 qhi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
        for (int r = 0; r < R; ++r) {
          acc_lo[r] = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(m, xe[r] + b), acc_lo[r]);
          acc_hi[r] = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(m, xo[r] + b), acc_hi[r]);
        }
        c += 2 * pairs;
      }
      if (c < c1) ScalarCodes(row, c, c1, xe, xo, R, edge);  // a last low nibble
      const __m512 vs = _mm512_set1_ps(s);
      for (int r = 0; r < R; ++r) {
        total[r] = _mm512_fmadd_ps(_mm512_add_ps(acc_lo[r], acc_hi[r]), vs, total[r]);
        offset[r] += s * edge[r] - sz * xsum[r * w.groups + g];
      }
    }
    for (int r = 0; r < R; ++r) y[r * w.out + o] = _mm512_reduce_add_ps(total[r]) + offset[r];
  }
}

template <int R>
LLMQ_AVX2 void Kernel256(const PackedWeights& w, const float* const* xe, const float* const* xo,
                         const float* xsum, int64_t o0, int64_t o1, float* y) {
  std::vector<uint8_t> zbuf(w.groups);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.codes + o * w.code_row_bytes;
    UnpackRow(w.zeros + o * w.zero_row_bytes, 4, 0, w.groups, zbuf.data());
    const c10::Half* srow = w.scales + o * w.groups;
    __m256 total[R];
    float offset[R];
    for (int r = 0; r < R; ++r) {
      total[r] = _mm256_setzero_ps();
      offset[r] = 0.0f;
    }
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
      const float s = static_cast<float>(srow[g]);
      const float sz = s * static_cast<float>(zbuf[g]);
      __m256 acc_lo[R], acc_hi[R];
      float edge[R];
      for (int r = 0; r < R; ++r) {
        acc_lo[r] = _mm256_setzero_ps();
        acc_hi[r] = _mm256_setzero_ps();
        edge[r] = 0.0f;
      }
      int64_t c = c0;
      if (c & 1) {
        ScalarCodes(row, c, c + 1, xe, xo, R, edge);
        ++c;
      }
      for (; c + 16 <= c1; c += 16) {  // 8 bytes = 16 codes
        const int64_t b = c >> 1;
        const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + b));
        const __m128i lo = _mm_and_si128(v, low4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
        const __m256 qlo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
        const __m256 qhi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
        for (int r = 0; r < R; ++r) {
          acc_lo[r] = _mm256_fmadd_ps(qlo, _mm256_loadu_ps(xe[r] + b), acc_lo[r]);
          acc_hi[r] = _mm256_fmadd_ps(qhi, _mm256_loadu_ps(xo[r] + b), acc_hi[r]);
        }
      }
      if (c < c1) ScalarCodes(row, c, c1, xe, xo, R, edge);
      const __m256 vs = _mm256_set1_ps(s);
      for (int r = 0; r < R; ++r) {
        total[r] = _mm256_fmadd_ps(_mm256_add_ps(acc_lo[r], acc_hi[r]), vs, total[r]);
        offset[r] += s * edge[r] - sz * xsum[r * w.groups + g];
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(total[r]), _mm256_extractf128_ps(total[r], 1));
      const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
      const __m128 h3 = _mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1));
      y[r * w.out + o] = _mm_cvtss_f32(h3) + offset[r];
    }
  }
}

}  // namespace

bool Fused4BitAvx512(const PackedWeights& w, const float* const* xe, const float* const* xo,
                     const float* xsum, int rows, int64_t o0, int64_t o1, float* y) {
  if (!HasAvx512()) return false;
  switch (rows) {
    case 1: Kernel512<1>(w, xe, xo, xsum, o0, o1, y); return true;
    case 2: Kernel512<2>(w, xe, xo, xsum, o0, o1, y); return true;
    case 3: Kernel512<3>(w, xe, xo, xsum, o0, o1, y); return true;
    case 4: Kernel512<4>(w, xe, xo, xsum, o0, o1, y); return true;
    default: return false;
  }
}

bool Fused4BitAvx2(const PackedWeights& w, const float* const* xe, const float* const* xo,
                   const float* xsum, int rows, int64_t o0, int64_t o1, float* y) {
  if (!HasAvx2()) return false;
  switch (rows) {
    case 1: Kernel256<1>(w, xe, xo, xsum, o0, o1, y); return true;
    case 2: Kernel256<2>(w, xe, xo, xsum, o0, o1, y); return true;
    case 3: Kernel256<3>(w, xe, xo, xsum, o0, o1, y); return true;
    case 4: Kernel256<4>(w, xe, xo, xsum, o0, o1, y); return true;
    default: return false;
  }
}

#else  // not x86-64 with GCC/Clang: the portable path handles everything

bool HasAvx512() { return false; }
bool HasAvx2() { return false; }
bool Fused4BitAvx512(const PackedWeights&, const float* const*, const float* const*, const float*,
                     int, int64_t, int64_t, float*) {
  return false;
}
bool Fused4BitAvx2(const PackedWeights&, const float* const*, const float* const*, const float*,
                   int, int64_t, int64_t, float*) {
  return false;
}

#endif

}  // namespace internal
}  // namespace llmq
