#include "quant/gptq_block.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "model/parallel.h"

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

at::Tensor BlockCpu(GptqBlockState& s, int64_t i1, int64_t count) {
  const int64_t out = s.w.size(0), in = s.w.size(1), groups = s.scales.size(1);
  const int64_t gs = s.group_size;
  const float maxq = static_cast<float>(s.spec.max_code());
  at::Tensor errors = at::empty({out, count}, s.w.options());  // (out, count)
  const float* w = s.w.data_ptr<float>();
  const float* hinv = s.hinv.data_ptr<float>();
  uint8_t* codes = s.codes.data_ptr<uint8_t>();
  float* scales = s.scales.data_ptr<float>();
  float* zeros = s.zeros.data_ptr<float>();
  double* loss = s.loss.data_ptr<double>();
  float* err_out = errors.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(count * count, 1));
  ParallelFor(0, out, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(count);
    for (int64_t r = r0; r < r1; ++r) {
      const float* wr = w + r * in;
      std::copy(wr + i1, wr + i1 + count, buf.begin());
      float scale = 0, zero = 0;
      double row_loss = 0;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t col = i1 + i;
        const GroupStep step = StepGroup(s, col, i);
        const int64_t g = step.group;
        if (step.fresh) {
          RowScaleZero(wr + col, std::min(gs, in - col), s.spec, &scales[r * groups + g],
                       &zeros[r * groups + g]);
        }
        if (g >= 0) {
          scale = scales[r * groups + g];
          zero = zeros[r * groups + g];
        }
        const float x = buf[i];
        const float q = std::min(std::max(std::nearbyint(x / scale) + zero, 0.0f), maxq);
        codes[r * in + col] = static_cast<uint8_t>(q);
        const float err = (x - scale * (q - zero)) / hinv[col * in + col];
        row_loss += static_cast<double>(err) * err;
        err_out[r * count + i] = err;
        const float* h = hinv + col * in + i1;  // row col of Hinv, from the block start
        for (int64_t j = i + 1; j < count; ++j) buf[j] -= err * h[j];
      }
      loss[r] += row_loss;
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

at::Tensor InverseCholeskyUpper(const at::Tensor& h) {
  at::Tensor a = h.flip({0, 1});  // J h J, a copy of our own: its lower triangle becomes L
  const int64_t n = h.size(0);
  at::Tensor inverse = at::zeros({n, n}, h.options());
  const int64_t half = n > kTriangularLeaf ? HalfOf(n) : 0;  // no scratch below the leaf
  if (!FactorAndInvertInto(a, inverse, at::empty({n - half, half}, h.options()))) return at::Tensor();
  at::Tensor u = inverse.flip({0, 1});
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
