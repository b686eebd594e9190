#include "quant/gptq_block.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/parallel.h"
#include "model/quantized_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLMQ_GPTQ_X86 1
// Unfused products and sums, as the scalar loop (baseline x86-64 has no FMA): GCC's
// intrinsics are vector expressions it would otherwise contract.
#define LLMQ_GPTQ_AVX512 __attribute__((target("avx512f"), optimize("fp-contract=off")))
#else
#define LLMQ_GPTQ_X86 0
#endif

namespace llmq {
namespace {

// quant/group_quant.h's ComputeScaleZero for one row segment, in the same float32 steps
// (the scale rounded to the stored dtype before the zero and the codes use it).
void RowScaleZero(const float* v, int64_t len, const QuantSpec& spec, float* scale, float* zero) {
  float lo = 0, hi = 0;
  for (int64_t j = 0; j < len; ++j) {
    lo = std::min(lo, v[j]);
    hi = std::max(hi, v[j]);
  }
  if (spec.sym) {
    const float m = std::max(-lo, hi);
    lo = -m;
    hi = m;
  }
  if (lo == 0 && hi == 0) {
    lo = -1;
    hi = 1;
  }
  const float maxq = static_cast<float>(spec.max_code());
  *scale = RoundScale((hi - lo) / maxq, spec.scale_dtype);
  *zero = spec.sym ? (maxq + 1) / 2 : std::min(std::max(std::nearbyint(-lo / *scale), 0.0f), maxq);
}

// Where column `col` (the i-th of its block) takes its scale and zero from: a new group
// (group >= 0), whose parameters are computed here when `fresh` (from W with the earlier
// blocks' updates, not this block's, as GPTQ does), or -1 when it continues the current one.
struct GroupStep {
  int64_t group = -1;
  bool fresh = false;
};
GroupStep StepGroup(const GptqBlockState& s, int64_t col, int64_t i) {
  const int64_t gs = s.group_size;
  if (!s.perm.empty()) return {s.perm[col] / gs, false};  // act_order: fixed groups
  if (col % gs == 0) return {col / gs, s.per_group_params};
  if (i == 0) return {col / gs, false};  // a group that began in an earlier block
  return {};
}

// The block's views of a GptqBlockState and the outputs of one call.
struct BlockArgs {
  const GptqBlockState& s;
  int64_t i1, count, in, groups;
  const float* w;
  const float* hinv;
  uint8_t* codes;
  float* scales;
  float* zeros;
  double* loss;
  float* err_out;  // (out, count)
};

// Row r through the block's columns; buf holds count floats.
void BlockRow(const BlockArgs& a, int64_t r, float* buf) {
  const GptqBlockState& s = a.s;
  const int64_t in = a.in, groups = a.groups, i1 = a.i1, count = a.count;
  const float maxq = static_cast<float>(s.spec.max_code());
  const float* wr = a.w + r * in;
  std::copy(wr + i1, wr + i1 + count, buf);
  float scale = 0, zero = 0;
  double row_loss = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t col = i1 + i;
    const GroupStep step = StepGroup(s, col, i);
    const int64_t g = step.group;
    if (step.fresh) {
      RowScaleZero(wr + col, std::min(s.group_size, in - col), s.spec, &a.scales[r * groups + g],
                   &a.zeros[r * groups + g]);
    }
    if (g >= 0) {
      scale = a.scales[r * groups + g];
      zero = a.zeros[r * groups + g];
    }
    const float x = buf[i];
    const float q = std::min(std::max(std::nearbyint(x / scale) + zero, 0.0f), maxq);
    a.codes[r * in + col] = static_cast<uint8_t>(q);
    const float err = (x - scale * (q - zero)) / a.hinv[col * in + col];
    row_loss += static_cast<double>(err) * err;
    a.err_out[r * count + i] = err;
    const float* h = a.hinv + col * in + i1;  // row col of Hinv, from the block start
    for (int64_t j = i + 1; j < count; ++j) buf[j] -= err * h[j];
  }
  a.loss[r] += row_loss;
}

constexpr int kLanes = 16;

#if LLMQ_GPTQ_X86
// Rows [r0, r0 + 16) through the block's columns, one row per lane: BlockRow's operations
// in its order on every row (x / scale, rounding half to even, the clamp as std::max and
// std::min compare, unfused products and differences, the loss in float64), so codes,
// errors and losses are bit for bit BlockRow's; 16 rows' dependency chains (two divisions
// per column) overlap, and the updates of the later columns are vector operations.
// scratch: (2 count + ceil(count / 4) + 2) x 16 floats.
LLMQ_GPTQ_AVX512 void BlockRows16(const BlockArgs& a, int64_t r0, float* scratch) {
  const GptqBlockState& s = a.s;
  const int64_t in = a.in, groups = a.groups, i1 = a.i1, count = a.count;
  float* tile = scratch;                     // column i of the 16 rows at tile + 16 i
  float* errs = scratch + count * kLanes;    // the same layout
  auto* codes = reinterpret_cast<uint8_t*>(scratch + 2 * count * kLanes);  // 16 bytes a column
  float* params = scratch + (2 * count + (count + 3) / 4) * kLanes;      // scale, zero
  for (int64_t i = 0; i < count; ++i) {
    for (int l = 0; l < kLanes; ++l) tile[i * kLanes + l] = a.w[(r0 + l) * in + i1 + i];
  }
  const __m512 maxq = _mm512_set1_ps(static_cast<float>(s.spec.max_code()));
  const __m512 zeros = _mm512_setzero_ps();
  __m512 scale = zeros, zero = zeros;
  __m512d loss_low = _mm512_setzero_pd(), loss_high = _mm512_setzero_pd();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t col = i1 + i;
    const GroupStep step = StepGroup(s, col, i);
    const int64_t g = step.group;
    if (g >= 0) {
      for (int l = 0; l < kLanes; ++l) {
        const int64_t r = r0 + l;
        if (step.fresh) {
          RowScaleZero(a.w + r * in + col, std::min(s.group_size, in - col), s.spec,
                       &a.scales[r * groups + g], &a.zeros[r * groups + g]);
        }
        params[l] = a.scales[r * groups + g];
        params[kLanes + l] = a.zeros[r * groups + g];
      }
      scale = _mm512_loadu_ps(params);
      zero = _mm512_loadu_ps(params + kLanes);
    }
    const __m512 x = _mm512_loadu_ps(tile + i * kLanes);
    __m512 q = _mm512_add_ps(
        _mm512_roundscale_ps(_mm512_div_ps(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
        zero);
    q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(q, zeros, _CMP_LT_OQ), zeros);  // std::max(q, 0)
    q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(maxq, q, _CMP_LT_OQ), maxq);    // std::min(q, maxq)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i * kLanes),
                     _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q)));
    const __m512 err = _mm512_div_ps(_mm512_sub_ps(x, _mm512_mul_ps(scale, _mm512_sub_ps(q, zero))),
                                     _mm512_set1_ps(a.hinv[col * in + col]));
    const __m512d err_low = _mm512_cvtps_pd(_mm512_castps512_ps256(err));
    const __m512d err_high =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(err), 1)));
    loss_low = _mm512_add_pd(loss_low, _mm512_mul_pd(err_low, err_low));
    loss_high = _mm512_add_pd(loss_high, _mm512_mul_pd(err_high, err_high));
    _mm512_storeu_ps(errs + i * kLanes, err);
    const float* h = a.hinv + col * in + i1;
    for (int64_t j = i + 1; j < count; ++j) {
      float* t = tile + j * kLanes;
      _mm512_storeu_ps(t, _mm512_sub_ps(_mm512_loadu_ps(t), _mm512_mul_ps(err, _mm512_set1_ps(h[j]))));
    }
  }
  alignas(64) double loss[kLanes];
  _mm512_store_pd(loss, loss_low);
  _mm512_store_pd(loss + 8, loss_high);
  for (int l = 0; l < kLanes; ++l) {
    const int64_t r = r0 + l;
    for (int64_t i = 0; i < count; ++i) {
      a.codes[r * in + i1 + i] = codes[i * kLanes + l];
      a.err_out[r * count + i] = errs[i * kLanes + l];
    }
    a.loss[r] += loss[l];
  }
}
#endif

at::Tensor BlockCpu(GptqBlockState& s, int64_t i1, int64_t count) {
  const int64_t out = s.w.size(0);
  at::Tensor errors = at::empty({out, count}, s.w.options());  // (out, count)
  const BlockArgs a{s, i1, count, s.w.size(1), s.scales.size(1), s.w.data_ptr<float>(),
                    s.hinv.data_ptr<float>(), s.codes.data_ptr<uint8_t>(),
                    s.scales.data_ptr<float>(), s.zeros.data_ptr<float>(),
                    s.loss.data_ptr<double>(), errors.data_ptr<float>()};
  // Units of 16 rows (the last one may be shorter), the whole units on AVX-512 lanes.
  const bool lanes = LLMQ_GPTQ_X86 && internal::KernelLevel() >= 2;
  const int64_t units = (out + kLanes - 1) / kLanes;
  const int64_t grain = std::max<int64_t>(1, 1024 / std::max<int64_t>(count * count, 1));
  ParallelFor(0, units, grain, [&](int64_t u0, int64_t u1) {
    std::vector<float> scratch((2 * count + (count + 3) / 4 + 2) * kLanes);
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t r0 = u * kLanes, r1 = std::min(out, r0 + kLanes);
#if LLMQ_GPTQ_X86
      if (lanes && r1 - r0 == kLanes) {
        BlockRows16(a, r0, scratch.data());
        continue;
      }
#endif
      for (int64_t r = r0; r < r1; ++r) BlockRow(a, r, scratch.data());
    }
  });
  return errors;
}

at::Tensor BlockAten(GptqBlockState& s, int64_t i1, int64_t count) {
  const int64_t in = s.w.size(1), gs = s.group_size;
  const double maxq = static_cast<double>(s.spec.max_code());
  at::Tensor block = s.w.narrow(1, i1, count).clone();  // (out, count), updated in-block
  at::Tensor errors = at::empty_like(block);
  at::Tensor hinv_block = s.hinv.narrow(0, i1, count).narrow(1, i1, count);  // (count, count)
  at::Tensor hinv_diag = hinv_block.diagonal().cpu();
  at::Tensor scale, zero;  // (out)
  at::Tensor loss = at::zeros({s.w.size(0)}, s.w.options());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t col = i1 + i;
    const GroupStep step = StepGroup(s, col, i);
    const int64_t g = step.group;
    if (step.fresh) {
      ScaleZero sz = ComputeScaleZero(s.w.narrow(1, col, std::min(gs, in - col)), s.spec);
      s.scales.select(1, g).copy_(sz.scale.view({-1}));
      s.zeros.select(1, g).copy_(sz.zero.view({-1}));
    }
    if (g >= 0) {
      scale = s.scales.select(1, g);
      zero = s.zeros.select(1, g);
    }
    at::Tensor wc = block.select(1, i);  // (out)
    at::Tensor q = at::clamp(at::round(wc / scale) + zero, 0, maxq);
    s.codes.select(1, col).copy_(q);
    at::Tensor err = (wc - scale * (q - zero)) / hinv_diag[i].item<float>();  // (out)
    loss.addcmul_(err, err);
    errors.select(1, i).copy_(err);
    if (i + 1 < count) {
      block.narrow(1, i + 1, count - i - 1)
          .addr_(err, hinv_block[i].narrow(0, i + 1, count - i - 1), /*beta=*/1, /*alpha=*/-1);
    }
  }
  s.loss.add_(loss.to(at::kDouble));
  return errors;
}

// Products with a lower-triangular t (n, n) by halves, t = [[A, 0], [B, C]], skipping its
// zero upper half: t m = [A m₁; B m₁ + C m₂] (m split by rows), m t = [m₁ A + m₂ B, m₂ C]
// (m split by columns). n³ FLOPs per n² · n product instead of 2n³. Each writes into `out`
// (a row-major view: GEMMs write such views in place), so the recursion allocates nothing:
// on an 8192² Hessian the concatenated halves of every level were ~2 GB of fresh memory.
constexpr int64_t kTriangularLeaf = 256;  // below this, plain GEMMs and triangular solves

int64_t HalfOf(int64_t n) { return (n / 2 + 63) / 64 * 64; }  // whole 64s for the GEMMs

// out = t m.
void LowerTimesInto(const at::Tensor& t, const at::Tensor& m, at::Tensor out) {
  const int64_t n = t.size(0);
  if (n <= kTriangularLeaf) {
    at::mm_out(out, t, m);
    return;
  }
  const int64_t h = HalfOf(n);
  at::Tensor m1 = m.narrow(0, 0, h), bottom = out.narrow(0, h, n - h);
  LowerTimesInto(t.narrow(0, 0, h).narrow(1, 0, h), m1, out.narrow(0, 0, h));
  LowerTimesInto(t.narrow(0, h, n - h).narrow(1, h, n - h), m.narrow(0, h, n - h), bottom);
  bottom.addmm_(t.narrow(0, h, n - h).narrow(1, 0, h), m1);
}

// out = m t.
void TimesLowerInto(const at::Tensor& m, const at::Tensor& t, at::Tensor out) {
  const int64_t n = t.size(0);
  if (n <= kTriangularLeaf) {
    at::mm_out(out, m, t);
    return;
  }
  const int64_t h = HalfOf(n);
  at::Tensor m2 = m.narrow(1, h, n - h), left = out.narrow(1, 0, h);
  TimesLowerInto(m.narrow(1, 0, h), t.narrow(0, 0, h).narrow(1, 0, h), left);
  TimesLowerInto(m2, t.narrow(0, h, n - h).narrow(1, h, n - h), out.narrow(1, h, n - h));
  left.addmm_(m2, t.narrow(0, h, n - h).narrow(1, 0, h));
}

// The Cholesky factor L of a symmetric positive definite a (n, n), a = L Lᵀ, and its
// inverse, by halves:
//   a = [[A, Bᵀ], [B, C]]:  L = [[L₁, 0], [L₂₁, L₂]] with L₁ L₁ᵀ = A, L₂₁ = B L₁⁻ᵀ,
//   L₂ L₂ᵀ = C − L₂₁ L₂₁ᵀ;  L⁻¹ = [[L₁⁻¹, 0], [−L₂⁻¹ L₂₁ L₁⁻¹, L₂⁻¹]].
// a's lower blocks are overwritten with L's (B with L₂₁, C with its update), L⁻¹ goes into
// the lower triangle of `inverse` (whose upper triangle the caller zeroed), and `scratch`
// holds at least (n - h) x h. False where a leaf does not factorise (a not positive
// definite). About 2n³/3 FLOPs, all but the leaves' in GEMMs (the triangular products
// above): LAPACK's Cholesky ran at a third of the GEMM rate here (8192² on two Xeon cores:
// 1.5 s, then 0.9 s for the inverse by halves).
bool FactorAndInvertInto(at::Tensor a, at::Tensor inverse, const at::Tensor& scratch) {
  const int64_t n = a.size(0);
  if (n <= kTriangularLeaf) {
    auto [l, info] = at::linalg_cholesky_ex(a, /*upper=*/false, /*check_errors=*/false);
    if (info.item<int64_t>() != 0) return false;
    a.copy_(l);
    inverse.copy_(at::linalg_solve_triangular(l, at::eye(n, l.options()), /*upper=*/false));
    return true;
  }
  const int64_t h = HalfOf(n);
  at::Tensor b = a.narrow(0, h, n - h).narrow(1, 0, h), c = a.narrow(0, h, n - h).narrow(1, h, n - h);
  at::Tensor inverse1 = inverse.narrow(0, 0, h).narrow(1, 0, h);
  at::Tensor inverse2 = inverse.narrow(0, h, n - h).narrow(1, h, n - h);
  if (!FactorAndInvertInto(a.narrow(0, 0, h).narrow(1, 0, h), inverse1, scratch)) return false;
  at::Tensor t = scratch.narrow(0, 0, n - h).narrow(1, 0, h);
  LowerTimesInto(inverse1, b.t(), t.t());  // (B L₁⁻ᵀ)ᵀ = L₁⁻¹ Bᵀ
  b.copy_(t);                              // L₂₁
  // C − L₂₁ L₂₁ᵀ on C's lower triangle only, by column panels (nothing reads the upper:
  // LAPACK's Cholesky reads the lower triangle, and so does every level below).
  for (int64_t j0 = 0; j0 < n - h; j0 += kTriangularLeaf) {
    const int64_t w = std::min(kTriangularLeaf, n - h - j0);
    c.narrow(0, j0, n - h - j0).narrow(1, j0, w)
        .addmm_(b.narrow(0, j0, n - h - j0), b.narrow(0, j0, w).t(), /*beta=*/1, /*alpha=*/-1);
  }
  if (!FactorAndInvertInto(c, inverse2, scratch)) return false;
  TimesLowerInto(b, inverse1, t);  // L₂₁ L₁⁻¹
  at::Tensor off = inverse.narrow(0, h, n - h).narrow(1, 0, h);
  LowerTimesInto(inverse2, t, off);
  off.neg_();
  return true;
}

}  // namespace

at::Tensor InverseCholeskyUpper(const at::Tensor& h, double damp) {
  at::Tensor a = h.flip({0, 1});  // J h J, a copy of our own: its lower triangle becomes L
  if (damp != 0) a.diagonal().add_(damp);
  const int64_t n = h.size(0);
  at::Tensor inverse = at::zeros({n, n}, h.options());
  const int64_t half = n > kTriangularLeaf ? HalfOf(n) : 0;  // no scratch below the leaf
  if (!FactorAndInvertInto(a, inverse, at::empty({n - half, half}, h.options()))) return at::Tensor();
  // U = J L⁻¹ J: on the CPU written over `a`, which is no longer needed, rather than into a
  // fresh n² tensor (268 MB of new pages on an 8192² Hessian).
  at::Tensor u;
  if (a.is_cpu() && a.scalar_type() == at::kFloat && a.is_contiguous() && inverse.is_contiguous()) {
    const float* src = inverse.data_ptr<float>();
    float* dst = a.data_ptr<float>();
    ParallelFor(0, n, 64, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) std::reverse_copy(src + (n - 1 - i) * n, src + (n - i) * n, dst + i * n);
    });
    u = a;
  } else {
    u = inverse.flip({0, 1});
  }
  if (!AllFinite(u)) return at::Tensor();
  return u;
}

bool AllFinite(const at::Tensor& t) {
  return std::isfinite(t.sum().item<double>()) || at::isfinite(t).all().item<bool>();
}

at::Tensor QuantizeBlockColumns(GptqBlockState& state, int64_t i1, int64_t count, bool use_aten) {
  const bool cpu_kernel = !use_aten && state.w.is_cpu() && state.w.is_contiguous() &&
                          state.hinv.is_contiguous() && state.codes.is_contiguous() &&
                          state.scales.is_contiguous() && state.zeros.is_contiguous();
  return cpu_kernel ? BlockCpu(state, i1, count) : BlockAten(state, i1, count);
}

}  // namespace llmq
