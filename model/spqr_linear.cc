#include "model/spqr_linear.h"

#include <ATen/ATen.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/packing.h"
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
    SpqrStorage st;
    st.bits = p.bits;
    st.scale_bits = p.scale_bits;
    st.group_size = p.group_size;
    st.out = out;
    st.in = in;
    st.codes = PackStream(p.codes.cpu().to(at::kByte), p.bits).view({-1}).to(device);
    st.scale_codes = PackStream(p.scale_codes.cpu().to(at::kByte), p.scale_bits).view({-1}).to(device);
    st.zero_codes = PackStream(p.zero_codes.cpu().to(at::kByte), p.scale_bits).view({-1}).to(device);
    st.scale_lo = p.scale_lo.to(device, at::kHalf);
    st.scale_step = p.scale_step.to(device, at::kHalf);
    st.zero_lo = p.zero_lo.to(device, at::kHalf);
    st.zero_step = p.zero_step.to(device, at::kHalf);
    at::Tensor mask = p.outlier_mask.to(at::kBool).cpu();                    // (out, in)
    at::Tensor coords = mask.nonzero();                                     // (nnz, 2), row-major
    at::Tensor counts = mask.sum(1, /*keepdim=*/false, at::kLong);          // (out)
    st.row_ptr = at::cat({at::zeros({1}, at::kLong), counts.cumsum(0)}).to(device, at::kInt);
    st.columns = coords.select(1, 1).to(device, in > std::numeric_limits<int16_t>::max() ? at::kInt : at::kShort);
    st.values = p.outlier_values.cpu().index({mask}).to(device, at::kHalf);  // (nnz) row-major
    if (p.bias.defined()) st.bias = p.bias.to(device, compute_dtype);
    return FromStorage(st, compute_dtype);
  });
}

absl::StatusOr<std::unique_ptr<SpqrLinear>> SpqrLinear::FromStorage(const SpqrStorage& st,
                                                                    at::ScalarType compute_dtype) {
  return CatchExceptions("SpqrLinear::FromStorage", [&]() -> absl::StatusOr<std::unique_ptr<SpqrLinear>> {
    auto invalid = [](auto&&... parts) {
      return absl::InvalidArgumentError(absl::StrCat("SpqrLinear: ", parts...));
    };
    if (st.bits < 1 || st.bits > 8 || st.scale_bits < 1 || st.scale_bits > 8 || st.group_size < 1 ||
        st.out < 1 || st.in < 1) {
      return invalid("bits ", st.bits, ", scale_bits ", st.scale_bits, ", group_size ", st.group_size,
                     ", shape [", st.out, ", ", st.in, "] out of range");
    }
    const int64_t groups = (st.in + st.group_size - 1) / st.group_size;
    const int64_t row_groups = (st.out + st.group_size - 1) / st.group_size;
    auto expect = [&](const at::Tensor& t, const char* name, std::initializer_list<at::ScalarType> dtypes,
                      std::vector<int64_t> shape) -> absl::Status {
      bool dtype_ok = false;
      for (at::ScalarType d : dtypes) dtype_ok = dtype_ok || (t.defined() && t.scalar_type() == d);
      if (dtype_ok && t.sizes().vec() == shape) return absl::OkStatus();
      std::vector<std::string> names;
      for (at::ScalarType d : dtypes) names.push_back(c10::toString(d));
      return invalid(name, " must be ", absl::StrJoin(names, " or "), " [", absl::StrJoin(shape, ", "), "], got ",
                     t.defined() ? absl::StrCat(c10::toString(t.scalar_type()), " ", Shape(t)) : "nothing");
    };
    LLMQ_RETURN_IF_ERROR(expect(st.codes, "codes", {at::kByte}, {PackedBytes(st.out * st.in, st.bits)}));
    const int64_t stat_bytes = PackedBytes(st.out * groups, st.scale_bits);
    LLMQ_RETURN_IF_ERROR(expect(st.scale_codes, "scale_codes", {at::kByte}, {stat_bytes}));
    LLMQ_RETURN_IF_ERROR(expect(st.zero_codes, "zero_codes", {at::kByte}, {stat_bytes}));
    LLMQ_RETURN_IF_ERROR(expect(st.scale_lo, "scale_lo", {at::kHalf}, {row_groups, groups}));
    LLMQ_RETURN_IF_ERROR(expect(st.scale_step, "scale_step", {at::kHalf}, {row_groups, groups}));
    LLMQ_RETURN_IF_ERROR(expect(st.zero_lo, "zero_lo", {at::kHalf}, {row_groups, groups}));
    LLMQ_RETURN_IF_ERROR(expect(st.zero_step, "zero_step", {at::kHalf}, {row_groups, groups}));
    LLMQ_RETURN_IF_ERROR(expect(st.row_ptr, "row_ptr", {at::kInt}, {st.out + 1}));
    const at::Tensor row_ptr = st.row_ptr.cpu().to(at::kLong);  // (out + 1)
    const int64_t nnz = row_ptr[st.out].item<int64_t>();
    if (row_ptr[0].item<int64_t>() != 0 || nnz < 0 ||
        (st.out > 0 && (row_ptr.narrow(0, 1, st.out) < row_ptr.narrow(0, 0, st.out)).any().item<bool>())) {
      return invalid("row_ptr must rise from 0 to the outlier count, never falling");
    }
    if (st.in > std::numeric_limits<int16_t>::max()) {
      LLMQ_RETURN_IF_ERROR(expect(st.columns, "columns", {at::kInt}, {nnz}));
    } else {
      LLMQ_RETURN_IF_ERROR(expect(st.columns, "columns", {at::kShort, at::kInt}, {nnz}));
    }
    LLMQ_RETURN_IF_ERROR(expect(st.values, "values", {at::kHalf}, {nnz}));
    if (nnz > 0) {
      const at::Tensor columns = st.columns.cpu().to(at::kLong);  // (nnz)
      if (columns.min().item<int64_t>() < 0 || columns.max().item<int64_t>() >= st.in) {
        return invalid("an outlier column is outside [0, ", st.in, ")");
      }
      // Within a row columns rise strictly: compare neighbours that share a row.
      const at::Tensor rows = at::repeat_interleave(row_ptr.narrow(0, 1, st.out) - row_ptr.narrow(0, 0, st.out));
      const at::Tensor same_row = rows.narrow(0, 1, nnz - 1) == rows.narrow(0, 0, nnz - 1);
      const at::Tensor rising = columns.narrow(0, 1, nnz - 1) > columns.narrow(0, 0, nnz - 1);
      if ((same_row & ~rising).any().item<bool>()) {
        return invalid("outlier columns must rise strictly within each row");
      }
    }
    if (st.bias.defined() && (st.bias.dim() != 1 || st.bias.size(0) != st.out)) {
      return invalid("bias ", Shape(st.bias), ": expected [", st.out, "]");
    }
    const at::Device device = st.codes.device();
    std::unique_ptr<SpqrLinear> l(new SpqrLinear());
    l->bits_ = st.bits;
    l->scale_bits_ = st.scale_bits;
    l->group_size_ = st.group_size;
    l->in_ = st.in;
    l->out_ = st.out;
    l->groups_ = groups;
    l->compute_dtype_ = compute_dtype;
    l->codes_ = st.codes.contiguous().view({1, -1});
    l->scale_codes_ = st.scale_codes.to(device).contiguous().view({1, -1});
    l->zero_codes_ = st.zero_codes.to(device).contiguous().view({1, -1});
    l->scale_lo_ = st.scale_lo.to(device).contiguous();
    l->scale_step_ = st.scale_step.to(device).contiguous();
    l->zero_lo_ = st.zero_lo.to(device).contiguous();
    l->zero_step_ = st.zero_step.to(device).contiguous();
    l->row_ptr_ = st.row_ptr.to(device).contiguous();
    l->columns_ = st.columns.to(device).contiguous();
    l->values_ = st.values.to(device).contiguous();
    if (st.bias.defined()) l->bias_ = st.bias.to(device, compute_dtype).contiguous();
    return l;
  });
}

SpqrStorage SpqrLinear::Storage() const {
  SpqrStorage st;
  st.bits = bits_;
  st.scale_bits = scale_bits_;
  st.group_size = group_size_;
  st.out = out_;
  st.in = in_;
  st.codes = codes_.view({-1});
  st.scale_codes = scale_codes_.view({-1});
  st.zero_codes = zero_codes_.view({-1});
  st.scale_lo = scale_lo_;
  st.scale_step = scale_step_;
  st.zero_lo = zero_lo_;
  st.zero_step = zero_step_;
  st.row_ptr = row_ptr_;
  st.columns = columns_;
  st.values = values_;
  st.bias = bias_;
  return st;
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
