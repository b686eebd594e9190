#include "model/fused_ops.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "model/parallel.h"
#include "model/quantized_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "model/avx512_math.h"
#define LLMQ_FUSED_AVX512 1
// Where a product and a sum must each round, as ATen's separate ops do: GCC would
// otherwise contract the intrinsics' multiply and add into one FMA.
#define LLMQ_AVX512_SEPARATE_ROUNDINGS_FN \
  __attribute__((target("avx512f,avx512bw,avx512vl,fma"), optimize("O3", "fp-contract=off")))
#endif

namespace llmq {
namespace {

#ifdef LLMQ_FUSED_AVX512
using internal::Exp512;
using internal::Load;
using internal::RoundTo;
using internal::Store;
using internal::Tail;

// One row of n: x * (1 / sqrt(mean(x^2) + eps)) rounded to T, times the weight, rounded.
template <typename T>
LLMQ_AVX512_FN void RmsNormRow(const T* x, const T* weight, float eps, int64_t n, T* out) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += 16) {
    const __m512 v = Load(x + k, Tail(n - k));
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  const float r = 1.0f / std::sqrt(_mm512_reduce_add_ps(acc) / static_cast<float>(n) + eps);
  const __m512 vr = _mm512_set1_ps(r);
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = Tail(n - k);
    const __m512 normed = RoundTo(out, _mm512_mul_ps(Load(x + k, m), vr));
    Store(out + k, _mm512_mul_ps(Load(weight + k, m), normed), m);
  }
}

// gate[k] = silu(gate[k]) * up[k]: silu(g) = g / (1 + exp(-g)) rounded to T, then the
// product rounded to T (ATen's silu_ then mul_).
template <typename T>
LLMQ_AVX512_FN void SiluMulSpan(T* gate, const T* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = Tail(n - k);
    const __m512 g = Load(gate + k, m);
    const __m512 e = Exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 silu = RoundTo(gate, _mm512_div_ps(g, _mm512_add_ps(one, e)));
    Store(gate + k, _mm512_mul_ps(silu, Load(up + k, m)), m);
  }
}
// One row of a head: out = x cos + rotate_half(x) sin over the first rd features, each
// product and the sum rounded to T (the ATen ops' roundings), the rest copied.
template <typename T>
LLMQ_AVX512_SEPARATE_ROUNDINGS_FN void RopeRow(const T* x, const T* cos, const T* sin, int64_t rd, int64_t hd, T* out) {
  const int64_t half = rd / 2;
  for (int64_t i = 0; i < half; i += 16) {
    const __mmask16 m = Tail(half - i);
    const __m512 x1 = Load(x + i, m), x2 = Load(x + half + i, m);
    const __m512 a1 = RoundTo(out, _mm512_mul_ps(x1, Load(cos + i, m)));
    const __m512 b1 = RoundTo(out, _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), x2), Load(sin + i, m)));
    const __m512 a2 = RoundTo(out, _mm512_mul_ps(x2, Load(cos + half + i, m)));
    const __m512 b2 = RoundTo(out, _mm512_mul_ps(x1, Load(sin + half + i, m)));
    Store(out + i, _mm512_add_ps(a1, b1), m);
    Store(out + half + i, _mm512_add_ps(a2, b2), m);
  }
  if (hd > rd) std::memcpy(out + rd, x + rd, (hd - rd) * sizeof(T));
}
#endif

bool Applies(const at::Tensor& t) {
#ifdef LLMQ_FUSED_AVX512
  return internal::HasAvx512() && t.is_cpu() && t.is_contiguous() &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
#else
  (void)t;
  return false;
#endif
}

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#ifdef LLMQ_FUSED_AVX512
  if (!Applies(x) || !Applies(weight) || weight.scalar_type() != x.scalar_type() || weight.dim() != 1 ||
      x.dim() < 1 || weight.size(0) != x.size(-1) || x.size(-1) == 0) {
    return at::Tensor();
  }
  at::Tensor out = at::empty_like(x);
  const int64_t n = x.size(-1), rows = x.numel() / n;
  const float e = static_cast<float>(eps);
  ParallelFor(0, rows, std::max<int64_t>(1, 16384 / n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (x.scalar_type() == at::kFloat) {
        RmsNormRow(x.data_ptr<float>() + r * n, weight.data_ptr<float>(), e, n, out.data_ptr<float>() + r * n);
      } else {
        RmsNormRow(x.data_ptr<c10::BFloat16>() + r * n, weight.data_ptr<c10::BFloat16>(), e, n,
                   out.data_ptr<c10::BFloat16>() + r * n);
      }
    }
  });
  return out;
#else
  (void)x, (void)weight, (void)eps;
  return at::Tensor();
#endif
}

bool SiluMulInPlace(at::Tensor& gate, const at::Tensor& up) {
#ifdef LLMQ_FUSED_AVX512
  if (!Applies(gate) || !Applies(up) || up.scalar_type() != gate.scalar_type() || !up.sizes().equals(gate.sizes())) {
    return false;
  }
  const int64_t n = gate.numel();
  constexpr int64_t kSpan = 4096;
  ParallelFor(0, (n + kSpan - 1) / kSpan, 4, [&](int64_t s0, int64_t s1) {
    const int64_t k0 = s0 * kSpan, k1 = std::min(n, s1 * kSpan);
    if (gate.scalar_type() == at::kFloat) {
      SiluMulSpan(gate.data_ptr<float>() + k0, up.data_ptr<float>() + k0, k1 - k0);
    } else {
      SiluMulSpan(gate.data_ptr<c10::BFloat16>() + k0, up.data_ptr<c10::BFloat16>() + k0, k1 - k0);
    }
  });
  return true;
#else
  (void)gate, (void)up;
  return false;
#endif
}

at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
#ifdef LLMQ_FUSED_AVX512
  const at::ScalarType t = x.scalar_type();
  if (!internal::HasAvx512() || !x.is_cpu() || !cos.is_cpu() || !sin.is_cpu() || x.dim() != 4 ||
      cos.dim() != 4 || sin.dim() != 4 || (t != at::kFloat && t != at::kBFloat16) ||
      cos.scalar_type() != t || sin.scalar_type() != t || !cos.sizes().equals(sin.sizes()) ||
      !cos.strides().equals(sin.strides()) || x.stride(3) != 1 || cos.stride(3) != 1 ||
      cos.size(0) != x.size(0) || cos.size(1) != 1 || cos.size(2) != x.size(2) ||
      cos.size(3) % 2 != 0 || cos.size(3) > x.size(3)) {
    return at::Tensor();
  }
  at::Tensor out = at::empty_like(x);  // x's layout (a transposed view: (batch, seq, heads, hd))
  const int64_t heads = x.size(1), seq = x.size(2), rd = cos.size(3), hd = x.size(3);
  ParallelFor(0, x.size(0) * heads * seq, std::max<int64_t>(1, 16384 / hd), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / (heads * seq), h = (i / seq) % heads, p = i % seq;
      const int64_t xo = b * x.stride(0) + h * x.stride(1) + p * x.stride(2);
      const int64_t oo = b * out.stride(0) + h * out.stride(1) + p * out.stride(2);
      const int64_t co = b * cos.stride(0) + p * cos.stride(2);
      if (t == at::kFloat) {
        RopeRow(x.data_ptr<float>() + xo, cos.data_ptr<float>() + co, sin.data_ptr<float>() + co, rd, hd,
                out.data_ptr<float>() + oo);
      } else {
        RopeRow(x.data_ptr<c10::BFloat16>() + xo, cos.data_ptr<c10::BFloat16>() + co,
                sin.data_ptr<c10::BFloat16>() + co, rd, hd, out.data_ptr<c10::BFloat16>() + oo);
      }
    }
  });
  return out;
#else
  (void)x, (void)cos, (void)sin;
  return at::Tensor();
#endif
}

}  // namespace llmq
