#include "model/linear.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace llmq {

DenseLinear::DenseLinear(at::Tensor weight, at::Tensor bias)
    : weight_(std::move(weight)), bias_(std::move(bias)) {}

at::Tensor DenseLinear::Forward(const at::Tensor& x) const {
  return bias_.defined() ? at::linear(x, weight_, bias_) : at::linear(x, weight_);
}

int64_t DenseLinear::in_features() const { return weight_.size(1); }
int64_t DenseLinear::out_features() const { return weight_.size(0); }

int64_t DenseLinear::WeightBytes() const {
  int64_t bytes = weight_.numel() * static_cast<int64_t>(weight_.element_size());
  if (bias_.defined()) bytes += bias_.numel() * static_cast<int64_t>(bias_.element_size());
  return bytes;
}

std::string DenseLinear::Describe() const {
  return absl::StrCat("dense ", c10::toString(weight_.scalar_type()));
}

}  // namespace llmq
