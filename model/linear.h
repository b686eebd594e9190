// Every linear layer of the model goes through this interface, so quantized layers
// (packed low-bit weights with their own kernels) replace dense ones without the
// transformer knowing. y = x W^T + b, W of shape (out_features, in_features).
#ifndef LLMQ_MODEL_LINEAR_H_
#define LLMQ_MODEL_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace llmq {

class Linear {
 public:
  virtual ~Linear() = default;

  // x: (..., in_features) in the model's compute dtype -> (..., out_features), same dtype.
  virtual at::Tensor Forward(const at::Tensor& x) const = 0;

  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;

  // Bytes of this layer's parameters as held in memory (packed codes, scales, zeros,
  // bias, outliers): what the layer really costs, counted from its tensors.
  virtual int64_t WeightBytes() const = 0;

  // Number of weight parameters it represents (out * in), for bits-per-weight.
  int64_t ParameterCount() const { return in_features() * out_features(); }

  // "dense float32", "int4 g128 asym", ... for logs and provenance.
  virtual std::string Describe() const = 0;

  // The full-precision weight (out, in) when this layer holds one (dense layers), else
  // nullptr. Quantizers read it; AWQ-style scaling writes it in place.
  virtual at::Tensor* mutable_dense_weight() { return nullptr; }
  // The bias (out) if any; undefined tensor if none.
  virtual at::Tensor bias() const = 0;
};

// A plain dense linear over a weight tensor (which may alias a memory-mapped file).
class DenseLinear : public Linear {
 public:
  // weight: (out, in); bias: (out) or undefined.
  DenseLinear(at::Tensor weight, at::Tensor bias);

  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override;
  int64_t out_features() const override;
  int64_t WeightBytes() const override;
  std::string Describe() const override;
  at::Tensor* mutable_dense_weight() override { return &weight_; }
  at::Tensor bias() const override { return bias_; }

  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;  // (out, in)
  at::Tensor bias_;    // (out) or undefined
};

}  // namespace llmq

#endif  // LLMQ_MODEL_LINEAR_H_
