// A linear layer in SpQR's storage format (Dettmers et al. 2023, arXiv 2306.03078): low-bit
// codes in small groups whose statistics are themselves quantized, plus a sparse set of
// weights kept in float16. It holds only that format; W is rebuilt from it on each call.
//
// With b = bits, β = group_size (input columns per first-level group and rows per
// second-level group), c = scale_bits, groups = ceil(in / β), row_groups = ceil(out / β):
//   codes       (out, in) values < 2^b, packed as one bit stream (ceil(out·in·b / 8) bytes);
//   scale_codes, zero_codes  (out, groups) values < 2^c, each packed as one bit stream;
//   scale_lo, scale_step, zero_lo, zero_step  (row_groups, groups) float16: the second
//       level. A statistic of row r, group g is  lo[r/β, g] + code[r, g] · step[r/β, g]
//       (SpqrStatistic), a scale at least kMinSpqrScale;
//   outliers in CSR: row_ptr (out + 1) int32, columns (nnz) int16 (int32 when in > 32767),
//       values (nnz) float16;
//   bias (out) in the compute dtype, if any.
// The weight is  W[r, j] = scale[r, g] · (code[r, j] − zero[r, g])  with g = j / β, except
// at an outlier, where W[r, j] is the outlier's value (it replaces the quantized one).
// WeightBytes() counts exactly these tensors, so bits per weight include statistics and
// outliers: b + 2c/β + 64/β² per weight, + (16 + 16 or 32) bits per outlier, + 32 bits per
// row (row_ptr), + the bias.
//
// Forward dequantizes the whole weight (float32, then the input's dtype) and multiplies:
// a reference path with no fused kernel, which costs one dense weight of transient memory
// per call. Safe to call from several threads.
#ifndef LLMQ_MODEL_SPQR_LINEAR_H_
#define LLMQ_MODEL_SPQR_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/linear.h"

namespace llmq {

// The smallest positive float16 (2^-24): a dequantized scale is never below it.
constexpr float kMinSpqrScale = 5.9604644775390625e-08f;

// Second-level dequantization: codes (out, groups) uint8, lo and step (row_groups, groups)
// float32 holding float16 values -> (out, groups) float32, lo[r / row_group, g] +
// codes[r, g] · step[r / row_group, g], computed in float32. `min_value` bounds it below
// (kMinSpqrScale for scales, a lowest float for zeros). The quantizer and the layer both
// call this, so the quantizer's codes are computed with the statistics the layer holds.
at::Tensor SpqrStatistic(const at::Tensor& codes, const at::Tensor& lo, const at::Tensor& step,
                         int64_t row_group, float min_value);

// What a quantizer hands the layer (unpacked; Create packs and narrows the dtypes).
struct SpqrParts {
  int bits = 3;
  int scale_bits = 3;
  int64_t group_size = 16;
  at::Tensor codes;        // (out, in) uint8
  at::Tensor scale_codes;  // (out, groups) uint8
  at::Tensor zero_codes;   // (out, groups) uint8
  at::Tensor scale_lo, scale_step, zero_lo, zero_step;  // (row_groups, groups) float
  at::Tensor outlier_mask;    // (out, in) bool
  at::Tensor outlier_values;  // (out, in) float; read where outlier_mask is set
  at::Tensor bias;            // (out) or undefined
};

// The layer's tensors exactly as it holds them (the format above), e.g. for a checkpoint.
struct SpqrStorage {
  int bits = 3;
  int scale_bits = 3;
  int64_t group_size = 16;
  int64_t out = 0, in = 0;
  at::Tensor codes;        // (ceil(out·in·bits / 8)) uint8, one bit stream, row-major
  at::Tensor scale_codes;  // (ceil(out·groups·scale_bits / 8)) uint8
  at::Tensor zero_codes;   // (ceil(out·groups·scale_bits / 8)) uint8
  at::Tensor scale_lo, scale_step, zero_lo, zero_step;  // (row_groups, groups) float16
  at::Tensor row_ptr;      // (out + 1) int32
  at::Tensor columns;      // (nnz) int16, or int32 when in > 32767
  at::Tensor values;       // (nnz) float16
  at::Tensor bias;         // (out) in the compute dtype, or undefined
};

class SpqrLinear : public Linear {
 public:
  // InvalidArgument for inconsistent shapes or codes out of range. Tensors are kept on
  // the device of `codes`; the bias in `compute_dtype`.
  static absl::StatusOr<std::unique_ptr<SpqrLinear>> Create(const SpqrParts& parts,
                                                            at::ScalarType compute_dtype);

  // The layer over stored tensors (Storage() of another, bit for bit). InvalidArgument
  // naming the part whose dtype or shape differs from the format, or a CSR structure
  // that is not one (row_ptr not from 0 to nnz, non-increasing; columns out of range or
  // not strictly increasing within a row). Tensors stay on the device of `codes`.
  static absl::StatusOr<std::unique_ptr<SpqrLinear>> FromStorage(const SpqrStorage& storage,
                                                                 at::ScalarType compute_dtype);
  SpqrStorage Storage() const;

  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return in_; }
  int64_t out_features() const override { return out_; }
  int64_t WeightBytes() const override;
  std::string Describe() const override;  // "spqr int3 g16 s3 outliers=0.84%"
  at::Tensor bias() const override { return bias_; }

  int64_t outlier_count() const;
  // The float32 (out, in) weight the layer computes with.
  at::Tensor DequantizedWeight() const;

 private:
  SpqrLinear() = default;
  int bits_ = 3, scale_bits_ = 3;
  int64_t group_size_ = 16, in_ = 0, out_ = 0, groups_ = 0;
  at::ScalarType compute_dtype_ = at::kFloat;
  at::Tensor codes_, scale_codes_, zero_codes_;                  // packed bit streams (1, n)
  at::Tensor scale_lo_, scale_step_, zero_lo_, zero_step_;       // float16
  at::Tensor row_ptr_, columns_, values_, bias_;
};

}  // namespace llmq

#endif  // LLMQ_MODEL_SPQR_LINEAR_H_
