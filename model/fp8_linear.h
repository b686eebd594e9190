// A linear layer over FP8 weights (model/fp8.h): one byte per weight plus float32 scales,
// one per tensor or one per output channel. W ≈ scale · decode(code).
//
// Quantization (Create): scale = max|W| / Fp8Max (over the tensor or the row; 1 for an
// all-zero one), code = EncodeFp8(W / scale): round to nearest even, saturating, subnormals
// kept. So the largest weight maps to the format's largest finite value.
//
// With fp8 activations (Options::activations), Forward first rounds each input row (token)
// to the same format with its own dynamic scale max|x_row| / Fp8Max. This CPU build has no
// FP8 arithmetic: activations are fake-quantized (rounded, kept in float) and the product
// runs in float on the decoded weight, which gives the numbers of an FP8 GEMM with float
// accumulation. On CPUs with AVX-512 the codes are decoded inside the float32 kernels of
// the packed layers (Fp8MatmulFloat32, model/quantized_kernels.h): one byte read per weight
// at one input row, never a float32 copy of W; elsewhere tiles of W are decoded for a GEMM.
#ifndef LLMQ_MODEL_FP8_LINEAR_H_
#define LLMQ_MODEL_FP8_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/fp8.h"
#include "model/linear.h"

namespace llmq {

class Fp8Linear : public Linear {
 public:
  struct Options {
    Fp8Format format = Fp8Format::kE4M3;
    bool per_channel = false;  // one scale per output channel, else one per tensor
    bool activations = false;  // per-token dynamic fp8 activations (fake-quantized)
  };

  // weight (out, in) floating point; bias (out) or undefined. compute_dtype: the model's
  // dtype (bias stored in it, output in x's dtype). InvalidArgument on bad shapes.
  static absl::StatusOr<std::unique_ptr<Fp8Linear>> Create(const at::Tensor& weight, const at::Tensor& bias,
                                                          const Options& options,
                                                          at::ScalarType compute_dtype);

  // The layer from what codes() and scales() return (a checkpoint's, bit for bit): codes
  // (out, in) uint8, each a finite value of options.format (no NaN or inf code); scales
  // float32, (out) per channel or (1) per tensor, finite and non-negative; bias (out) or
  // undefined. Kept on the device of codes. InvalidArgument naming the part that breaks these.
  static absl::StatusOr<std::unique_ptr<Fp8Linear>> FromCodes(const at::Tensor& codes, const at::Tensor& scales,
                                                             const at::Tensor& bias, const Options& options,
                                                             at::ScalarType compute_dtype);

  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return codes_.size(1); }
  int64_t out_features() const override { return codes_.size(0); }
  int64_t WeightBytes() const override;
  std::string Describe() const override;
  at::Tensor bias() const override { return bias_; }

  const Options& options() const { return options_; }
  const at::Tensor& codes() const { return codes_; }    // (out, in) uint8
  const at::Tensor& scales() const { return scales_; }  // (out) or (1) float32
  // scale · decode(code), (out, in) float32.
  at::Tensor DequantizedWeight() const;

 private:
  Fp8Linear() = default;
  // y (rows, out) = x (rows, in) W^T on the CPU without the AVX-512 kernels: tiles of W
  // decoded to float32 through a BLAS GEMM.
  void MatmulDecodedTiles(const at::Tensor& x, at::Tensor& y) const;
  Options options_;
  at::Tensor codes_, scales_, bias_;
};

// x (rows, in) float32 -> the same with each row rounded to `format` under the dynamic
// scale max|row| / Fp8Max (rows of zeros stay zero).
at::Tensor FakeQuantizeFp8PerToken(const at::Tensor& x, Fp8Format format);

}  // namespace llmq

#endif  // LLMQ_MODEL_FP8_LINEAR_H_
