// Group-wise uniform quantization: the primitive every method is built from.
//
// A weight W (out, in) is cut into groups of `group_size` consecutive input columns per
// row (group_size -1 = the whole row). When `in` is not a multiple of group_size, the
// last group is shorter (in % group_size columns) — it is a group like the others.
// Per group (as GPTQ's reference quantizer computes it):
//   asymmetric: lo = min(min(w), 0), hi = max(max(w), 0);
//               scale = (hi - lo) / (2^bits - 1); zero = round(-lo / scale)
//   symmetric:  m = max(|lo|, hi); lo = -m, hi = m; scale = 2m / (2^bits - 1);
//               zero = (2^bits - 1 + 1) / 2 = 2^(bits-1)
//   a group with lo == hi == 0 uses lo = -1, hi = 1;
//   q = clamp(round(w / scale) + zero, 0, 2^bits - 1)   (round half to even)
//   w' = scale * (q - zero)
// Storage: the scale is rounded to `scale_dtype` (float16 for the packed layers, as GPTQ
// checkpoints store it) the moment it is computed, before the zero and the codes, so the
// codes — and GPTQ's error feedback — use exactly the scale that is stored. Computing
// with the float32 scale and rounding it only when packing left the stored weights off
// the ones GPTQ had compensated for, and RTN's codes off the nearest ones.
#ifndef LLMQ_QUANT_GROUP_QUANT_H_
#define LLMQ_QUANT_GROUP_QUANT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace llmq {

struct QuantSpec {
  int bits = 4;              // 2..8
  int64_t group_size = 128;  // -1 = whole row, else > 0
  bool sym = false;
  // What the scales are stored in: kFloat (no rounding; dense installation), kHalf
  // (QuantizedLinear::kScaleDtype, what packed layers hold) or kBFloat16.
  at::ScalarType scale_dtype = at::kFloat;

  int64_t max_code() const { return (int64_t{1} << bits) - 1; }
  // Groups per row of `in` columns (the last one possibly shorter).
  int64_t NumGroups(int64_t in) const {
    return group_size <= 0 ? 1 : (in + group_size - 1) / group_size;
  }
  int64_t EffectiveGroupSize(int64_t in) const { return group_size <= 0 ? in : group_size; }
};

// `scale` rounded to `dtype` (round to nearest even) and back to float32; a scale that
// would round to 0 (a group narrower than the dtype's smallest step) becomes the smallest
// positive value of the dtype, so that w / scale stays finite. kFloat returns `scale`.
// Throws c10::Error for a dtype other than kFloat, kHalf, kBFloat16.
float RoundScale(float scale, at::ScalarType dtype);
at::Tensor RoundScale(const at::Tensor& scale, at::ScalarType dtype);  // elementwise, float32

// Scale and zero per row of `w` (rows, cols): all columns of a row form one group.
// Returns float32 tensors of shape (rows, 1) each. `w` may be any float dtype. The scale
// is already rounded to spec.scale_dtype and the zero computed from the rounded scale.
struct ScaleZero {
  at::Tensor scale;  // (rows, 1) float32 holding spec.scale_dtype values, > 0
  at::Tensor zero;   // (rows, 1) float32, integer-valued in [0, 2^bits - 1]
};
ScaleZero ComputeScaleZero(const at::Tensor& w, const QuantSpec& spec);

// Codes of `w` (rows, cols) under per-row scale/zero (rows, 1): uint8 (rows, cols).
at::Tensor QuantizeWith(const at::Tensor& w, const ScaleZero& sz, const QuantSpec& spec);
// scale * (codes - zero), float32 (rows, cols).
at::Tensor DequantizeWith(const at::Tensor& codes, const ScaleZero& sz);

// A whole weight quantized group by group.
struct GroupQuantized {
  QuantSpec spec;
  at::Tensor codes;   // (out, in) uint8
  at::Tensor scales;  // (out, groups) float32, values of spec.scale_dtype
  at::Tensor zeros;   // (out, groups) float32 (integer-valued)
  // Optional (in) int32: the group of each input column, when columns were quantized out
  // of order (GPTQ act_order without static groups). Undefined = column / group_size.
  at::Tensor g_idx;
};

GroupQuantized QuantizeGroups(const at::Tensor& w, const QuantSpec& spec);
// The float32 (out, in) weight the codes stand for.
at::Tensor Dequantize(const GroupQuantized& q);

}  // namespace llmq

#endif  // LLMQ_QUANT_GROUP_QUANT_H_
