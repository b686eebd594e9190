#include "quant/group_quant.h"

#include <ATen/ATen.h>

namespace llmq {

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
  sz.scale = (hi - lo) / maxq;
  sz.zero = spec.sym ? at::full_like(lo, (maxq + 1) / 2) : at::round(-lo / sz.scale);
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
