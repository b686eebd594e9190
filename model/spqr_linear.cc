#include "model/spqr_linear.h"

#include <ATen/ATen.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/quantized_linear.h"

namespace llmq {
namespace {

std::string Shape(const at::Tensor& t) {
  return t.defined() ? absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]") : "undefined";
}

int64_t Bytes(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0;
}

// (rows, cols) codes as one bit stream (1, ceil(rows * cols * bits / 8)) and back.
at::Tensor PackStream(const at::Tensor& codes, int bits) {
  return PackCodes(codes.reshape({1, -1}).contiguous(), bits);
}
at::Tensor UnpackStream(const at::Tensor& packed, int bits, int64_t rows, int64_t cols) {
  return UnpackCodes(packed, bits, rows * cols).view({rows, cols});
}

}  // namespace

at::Tensor SpqrStatistic(const at::Tensor& codes, const at::Tensor& lo, const at::Tensor& step,
                         int64_t row_group, float min_value) {
  const int64_t out = codes.size(0);
  at::Tensor lo_rows = lo.to(at::kFloat).repeat_interleave(row_group, 0).narrow(0, 0, out);
  at::Tensor step_rows = step.to(at::kFloat).repeat_interleave(row_group, 0).narrow(0, 0, out);
  return at::clamp_min(lo_rows + codes.to(at::kFloat) * step_rows, min_value);  // (out, groups)
}

absl::StatusOr<std::unique_ptr<SpqrLinear>> SpqrLinear::Create(const SpqrParts& p,
                                                               at::ScalarType compute_dtype) {
  return CatchExceptions("SpqrLinear::Create", [&]() -> absl::StatusOr<std::unique_ptr<SpqrLinear>> {
    auto invalid = [](auto&&... parts) {
      return absl::InvalidArgumentError(absl::StrCat("SpqrLinear: ", parts...));
    };
    if (p.bits < 1 || p.bits > 8 || p.scale_bits < 1 || p.scale_bits > 8 || p.group_size < 1) {
      return invalid("bits ", p.bits, ", scale_bits ", p.scale_bits, ", group_size ",
                     p.group_size, " out of range");
    }
    if (!p.codes.defined() || p.codes.dim() != 2) return invalid("codes ", Shape(p.codes), ": expected (out, in)");
    const int64_t out = p.codes.size(0), in = p.codes.size(1);
    const int64_t groups = (in + p.group_size - 1) / p.group_size;
    const int64_t row_groups = (out + p.group_size - 1) / p.group_size;
    for (const at::Tensor* t : {&p.scale_codes, &p.zero_codes}) {
      if (!t->defined() || t->sizes() != at::IntArrayRef({out, groups})) {
        return invalid("statistic codes ", Shape(*t), ": expected [", out, ", ", groups, "]");
      }
      if (t->numel() > 0 && t->max().item<int64_t>() >= (int64_t{1} << p.scale_bits)) {
        return invalid("a statistic code exceeds ", p.scale_bits, " bits");
      }
    }
    for (const at::Tensor* t : {&p.scale_lo, &p.scale_step, &p.zero_lo, &p.zero_step}) {
      if (!t->defined() || t->sizes() != at::IntArrayRef({row_groups, groups})) {
        return invalid("second-level statistics ", Shape(*t), ": expected [", row_groups, ", ",
                       groups, "]");
      }
    }
    if (p.codes.numel() > 0 && p.codes.max().item<int64_t>() >= (int64_t{1} << p.bits)) {
      return invalid("a code exceeds ", p.bits, " bits");
    }
    if (!p.outlier_mask.defined() || p.outlier_mask.sizes() != p.codes.sizes() ||
        !p.outlier_values.defined() || p.outlier_values.sizes() != p.codes.sizes()) {
      return invalid("outlier mask ", Shape(p.outlier_mask), " and values ",
                     Shape(p.outlier_values), ": expected the shape of codes ", Shape(p.codes));
    }
    if (p.bias.defined() && (p.bias.dim() != 1 || p.bias.size(0) != out)) {
      return invalid("bias ", Shape(p.bias), ": expected [", out, "]");
    }
    const at::Device device = p.codes.device();
    std::unique_ptr<SpqrLinear> l(new SpqrLinear());
    l->bits_ = p.bits;
    l->scale_bits_ = p.scale_bits;
    l->group_size_ = p.group_size;
    l->in_ = in;
    l->out_ = out;
    l->groups_ = groups;
    l->compute_dtype_ = compute_dtype;
    l->codes_ = PackStream(p.codes.cpu().to(at::kByte), p.bits).to(device);
    l->scale_codes_ = PackStream(p.scale_codes.cpu().to(at::kByte), p.scale_bits).to(device);
    l->zero_codes_ = PackStream(p.zero_codes.cpu().to(at::kByte), p.scale_bits).to(device);
    l->scale_lo_ = p.scale_lo.to(device, at::kHalf);
    l->scale_step_ = p.scale_step.to(device, at::kHalf);
    l->zero_lo_ = p.zero_lo.to(device, at::kHalf);
    l->zero_step_ = p.zero_step.to(device, at::kHalf);
    at::Tensor mask = p.outlier_mask.to(at::kBool).cpu();                    // (out, in)
    at::Tensor coords = mask.nonzero();                                     // (nnz, 2), row-major
    at::Tensor counts = mask.sum(1, /*keepdim=*/false, at::kLong);          // (out)
    l->row_ptr_ = at::cat({at::zeros({1}, at::kLong), counts.cumsum(0)}).to(device, at::kInt);
    l->columns_ = coords.select(1, 1).to(device, in > std::numeric_limits<int16_t>::max() ? at::kInt : at::kShort);
    l->values_ = p.outlier_values.cpu().index({mask}).to(device, at::kHalf);  // (nnz) row-major
    if (p.bias.defined()) l->bias_ = p.bias.to(device, compute_dtype);
    return l;
  });
}

int64_t SpqrLinear::outlier_count() const { return values_.numel(); }

at::Tensor SpqrLinear::DequantizedWeight() const {
  at::Tensor codes = UnpackStream(codes_, bits_, out_, in_).to(at::kFloat);  // (out, in)
  at::Tensor scale = SpqrStatistic(UnpackStream(scale_codes_, scale_bits_, out_, groups_),
                                   scale_lo_, scale_step_, group_size_, kMinSpqrScale);
  at::Tensor zero = SpqrStatistic(UnpackStream(zero_codes_, scale_bits_, out_, groups_), zero_lo_,
                                  zero_step_, group_size_, std::numeric_limits<float>::lowest());
  // (out, groups) -> (out, in): each column takes its group's statistics.
  scale = scale.repeat_interleave(group_size_, 1).narrow(1, 0, in_);
  zero = zero.repeat_interleave(group_size_, 1).narrow(1, 0, in_);
  at::Tensor w = scale * (codes - zero);  // (out, in)
  if (values_.numel() > 0) {
    at::Tensor counts = (row_ptr_.narrow(0, 1, out_) - row_ptr_.narrow(0, 0, out_)).to(at::kLong);
    at::Tensor rows = at::repeat_interleave(counts);  // (nnz)
    w.index_put_({rows, columns_.to(at::kLong)}, values_.to(at::kFloat));
  }
  return w;
}

at::Tensor SpqrLinear::Forward(const at::Tensor& x) const {
  at::Tensor w = DequantizedWeight().to(x.scalar_type());  // (out, in)
  return bias_.defined() ? at::linear(x, w, bias_.to(x.scalar_type())) : at::linear(x, w);
}

int64_t SpqrLinear::WeightBytes() const {
  int64_t bytes = 0;
  for (const at::Tensor* t : {&codes_, &scale_codes_, &zero_codes_, &scale_lo_, &scale_step_,
                              &zero_lo_, &zero_step_, &row_ptr_, &columns_, &values_, &bias_}) {
    bytes += Bytes(*t);
  }
  return bytes;
}

std::string SpqrLinear::Describe() const {
  const double total = static_cast<double>(std::max<int64_t>(1, out_ * in_));
  return absl::StrFormat("spqr int%d g%d s%d outliers=%.2f%%", bits_, group_size_, scale_bits_,
                         100.0 * static_cast<double>(outlier_count()) / total);
}

}  // namespace llmq
