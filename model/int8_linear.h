// A W8A8 linear layer with integer accumulation (model/int8_gemm.h), for SmoothQuant and
// LLM.int8():
//   weights: symmetric per output channel, s_w[o] = max_c |W[o, c]| / q_w, codes
//            round(W / s_w) in [-q_w, q_w], stored as int8 (q_b = 2^(b-1) - 1, so 127 at
//            8 bits; at fewer bits the levels are fewer but the storage is still a byte:
//            fake-quantized storage, the arithmetic is the same integer GEMM);
//   activations: dynamic per token (row of x), s_x[t] = max_c |x[t, c]| / q_a, codes
//            round(x / s_x) in [-q_a, q_a];
//   y[t, o] = s_x[t] s_w[o] Σ_c qx[t, c] qw[o, c] + b[o], the sum in int32.
// LLM.int8() (Dettmers et al. 2022) adds a mixed-precision decomposition: with an
// outlier threshold (>= 0), the input columns c with max_t |x[t, c]| > threshold in this call are
// taken out of the integer product (and out of s_x) and multiplied in 16-bit float:
//   y += fp16(x[:, O]) · (s_w ⊙ qw[:, O])ᵀ   (as bitsandbytes does at inference: the
// weights of the outlier columns come from the int8 codes). The layer counts the columns
// it saw and how many were outliers.
#ifndef LLMQ_MODEL_INT8_LINEAR_H_
#define LLMQ_MODEL_INT8_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/int8_gemm.h"
#include "model/linear.h"

namespace llmq {

class Int8Linear : public Linear {
 public:
  struct Options {
    int weight_bits = 8;           // 2..8
    int activation_bits = 8;       // 2..8
    double outlier_threshold = -1;  // >= 0: LLM.int8()'s fp16 outlier columns; < 0: none
  };

  // weight (out, in) floating point on the CPU; bias (out) or undefined.
  static absl::StatusOr<std::unique_ptr<Int8Linear>> Create(const at::Tensor& weight, const at::Tensor& bias,
                                                           const Options& options,
                                                           at::ScalarType compute_dtype);

  // The layer from what Codes() and weight_scales() return (a checkpoint's, bit for bit):
  // codes (out, in) int8 in [-q_w, q_w] for options.weight_bits, weight_scales (out)
  // float32, finite and non-negative; bias (out) or undefined. All on the CPU.
  // InvalidArgument naming the part that breaks these.
  static absl::StatusOr<std::unique_ptr<Int8Linear>> FromCodes(const at::Tensor& codes,
                                                              const at::Tensor& weight_scales,
                                                              const at::Tensor& bias, const Options& options,
                                                              at::ScalarType compute_dtype);

  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return weights_.k; }
  int64_t out_features() const override { return weights_.n; }
  int64_t WeightBytes() const override;
  std::string Describe() const override;
  at::Tensor bias() const override { return bias_; }

  const Options& options() const { return options_; }
  const at::Tensor& weight_scales() const { return weight_scales_; }  // (out) float32
  at::Tensor Codes() const { return UnpackInt8Weights(weights_); }   // (out, in) int8
  at::Tensor DequantizedWeight() const;                              // (out, in) float32

  // Input columns seen by Forward (one per column per call) and how many were outliers.
  int64_t columns_seen() const { return columns_seen_.load(); }
  int64_t outlier_columns() const { return outlier_columns_.load(); }

 private:
  Int8Linear() = default;
  Options options_;
  PackedInt8Weights weights_;
  at::Tensor weight_scales_, bias_;
  mutable std::atomic<int64_t> columns_seen_{0}, outlier_columns_{0};
};

// Symmetric per-row quantization of x (rows, in) float32 to `bits`: codes (rows, in) int8
// and scales (rows) float32 = max|row| / (2^(bits-1) - 1) (1 for a zero row).
void QuantizeRowsSymmetric(const at::Tensor& x, int bits, at::Tensor* codes, at::Tensor* scales);

}  // namespace llmq

#endif  // LLMQ_MODEL_INT8_LINEAR_H_
