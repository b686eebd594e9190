#include "quant/group_quant.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <limits>

namespace llmq {
namespace {

// The smallest positive value of a scale dtype (its smallest subnormal).
float SmallestPositive(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return std::ldexp(1.0f, -24);
    case at::kBFloat16:
      return std::ldexp(1.0f, -133);
    case at::kFloat:
      return std::numeric_limits<float>::denorm_min();
    default:
      TORCH_CHECK(false, "scale dtype must be float32, float16 or bfloat16, got ", dtype);
  }
  return 0;
}

}  // namespace

float RoundScale(float scale, at::ScalarType dtype) {
  const float tiny = SmallestPositive(dtype);
  float rounded = scale;
  if (dtype == at::kHalf) rounded = static_cast<float>(c10::Half(scale));
  if (dtype == at::kBFloat16) rounded = static_cast<float>(c10::BFloat16(scale));
  return scale > 0 && rounded == 0 ? tiny : rounded;
}

at::Tensor RoundScale(const at::Tensor& scale, at::ScalarType dtype) {
  const float tiny = SmallestPositive(dtype);
  at::Tensor s = scale.to(at::kFloat);
  if (dtype == at::kFloat) return s;
  at::Tensor rounded = s.to(dtype).to(at::kFloat);
  return at::where((s > 0).logical_and(rounded == 0), at::full_like(rounded, tiny), rounded);
}

ScaleZero ComputeScaleZero(const at::Tensor& w, const QuantSpec& spec) {
  at::Tensor x = w.to(at::kFloat);
  at::Tensor lo = at::clamp_max(std::get<0>(x.min(1, /*keepdim=*/true)), 0.0);  // (rows, 1)
  at::Tensor hi = at::clamp_min(std::get<0>(x.max(1, /*keepdim=*/true)), 0.0);
  if (spec.sym) {
    at::Tensor m = at::maximum(lo.abs(), hi);
    lo = -m;
    hi = m;
  }
  at::Tensor empty = (lo == 0).logical_and(hi == 0);
  lo = at::where(empty, at::full_like(lo, -1.0), lo);
  hi = at::where(empty, at::full_like(hi, 1.0), hi);
  const double maxq = static_cast<double>(spec.max_code());
  ScaleZero sz;
  sz.scale = RoundScale((hi - lo) / maxq, spec.scale_dtype);
  // From the stored scale, so that lo lands on code 0 of the grid that is stored; the
  // clamp only matters for coarse dtypes (bfloat16 may round the scale down by 2^-8).
  sz.zero = spec.sym ? at::full_like(lo, (maxq + 1) / 2)
                     : at::clamp(at::round(-lo / sz.scale), 0, maxq);
  return sz;
}

at::Tensor QuantizeWith(const at::Tensor& w, const ScaleZero& sz, const QuantSpec& spec) {
  at::Tensor q = at::round(w.to(at::kFloat) / sz.scale) + sz.zero;
  return at::clamp(q, 0, static_cast<double>(spec.max_code())).to(at::kByte);
}

at::Tensor DequantizeWith(const at::Tensor& codes, const ScaleZero& sz) {
  return sz.scale * (codes.to(at::kFloat) - sz.zero);
}

GroupQuantized QuantizeGroups(const at::Tensor& w, const QuantSpec& spec) {
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t g = spec.EffectiveGroupSize(in), groups = spec.NumGroups(in);
  GroupQuantized q;
  q.spec = spec;
  q.codes = at::empty({out, in}, at::kByte);
  q.scales = at::empty({out, groups}, at::kFloat);
  q.zeros = at::empty({out, groups}, at::kFloat);
  at::Tensor wf = w.to(at::kCPU, at::kFloat);
  for (int64_t k = 0; k < groups; ++k) {
    const int64_t begin = k * g, len = std::min(g, in - begin);
    at::Tensor block = wf.narrow(1, begin, len);  // (out, len)
    ScaleZero sz = ComputeScaleZero(block, spec);
    q.codes.narrow(1, begin, len).copy_(QuantizeWith(block, sz, spec));
    q.scales.narrow(1, k, 1).copy_(sz.scale);
    q.zeros.narrow(1, k, 1).copy_(sz.zero);
  }
  return q;
}

at::Tensor Dequantize(const GroupQuantized& q) {
  const int64_t in = q.codes.size(1);
  at::Tensor group_of_column;
  if (q.g_idx.defined()) {
    group_of_column = q.g_idx.to(at::kLong);
  } else {
    group_of_column = at::div(at::arange(in, at::kLong), q.spec.EffectiveGroupSize(in), "floor");
  }
  at::Tensor scale = q.scales.index_select(1, group_of_column);  // (out, in)
  at::Tensor zero = q.zeros.index_select(1, group_of_column);
  return scale * (q.codes.to(at::kFloat) - zero);
}

}  // namespace llmq
