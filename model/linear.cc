#include "model/linear.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "model/gemv.h"

namespace llmq {

DenseLinear::DenseLinear(at::Tensor weight, at::Tensor bias)
    : weight_(std::move(weight)), bias_(std::move(bias)) {}

at::Tensor DenseLinear::Forward(const at::Tensor& x) const {
  const int64_t in = weight_.size(1), out = weight_.size(0);
  const at::ScalarType dtype = weight_.scalar_type();
  if (x.numel() == in && x.scalar_type() == dtype && (dtype == at::kFloat || dtype == at::kBFloat16) &&
      x.is_cpu() && weight_.is_cpu() && weight_.is_contiguous()) {
    // One input row: our GEMV streams W at memory speed where BLAS does not (model/gemv.h).
    const at::Tensor xc = x.contiguous();
    at::Tensor y = at::empty({out}, x.options().dtype(at::kFloat));  // (out)
    if (dtype == at::kFloat) {
      DenseGemv(weight_.data_ptr<float>(), xc.data_ptr<float>(), out, in, y.data_ptr<float>());
    } else {
      DenseGemv(weight_.data_ptr<c10::BFloat16>(), xc.data_ptr<c10::BFloat16>(), out, in,
                y.data_ptr<float>());
    }
    if (bias_.defined()) y.add_(bias_.to(at::kFloat));
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out;
    return y.to(dtype).view(shape);
  }
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
