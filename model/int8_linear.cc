#include "model/int8_linear.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/parallel.h"
#include "model/quantized_kernels.h"
#include "model/vector_loops.h"

namespace llmq {

void QuantizeRowsSymmetric(const at::Tensor& x_in, int bits, at::Tensor* codes, at::Tensor* scales) {
  // One pass per row (what four ATen passes and their temporaries did: the same floats).
  const at::Tensor x = x_in.to(at::kCPU, at::kFloat).contiguous();
  const int64_t rows = x.size(0), n = x.size(1);
  const float q = static_cast<float>((1 << (bits - 1)) - 1);
  *scales = at::empty({rows}, at::kFloat);
  *codes = at::empty({rows, n}, at::kChar);
  const float* xp = x.data_ptr<float>();
  float* sp = scales->data_ptr<float>();
  int8_t* cp = codes->data_ptr<int8_t>();
  ParallelFor(0, rows, internal::RowGrain(n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float absmax = AbsMax(xp + r * n, n);
      sp[r] = absmax > 0 ? absmax / q : 1.0f;
      RoundToInt8(xp + r * n, n, sp[r], q, cp + r * n);
    }
  });
}

namespace {

absl::Status CheckOptions(const Int8Linear::Options& options) {
  if (options.weight_bits < 2 || options.weight_bits > 8 || options.activation_bits < 2 ||
      options.activation_bits > 8) {
    return absl::InvalidArgumentError(absl::StrCat("Int8Linear: weight and activation bits must be in 2..8, got ",
                                                   options.weight_bits, " and ", options.activation_bits));
  }
  return absl::OkStatus();
}

std::string Shape(const at::Tensor& t) {
  return absl::StrCat(c10::toString(t.scalar_type()), " [", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Int8Linear>> Int8Linear::Create(const at::Tensor& weight, const at::Tensor& bias,
                                                               const Options& options,
                                                               at::ScalarType compute_dtype) {
  return CatchExceptions("Int8Linear::Create", [&]() -> absl::StatusOr<std::unique_ptr<Int8Linear>> {
    if (!weight.defined() || weight.dim() != 2 || weight.numel() == 0 || !weight.is_floating_point()) {
      return absl::InvalidArgumentError("Int8Linear: weight must be a non-empty 2-D floating-point tensor");
    }
    LLMQ_RETURN_IF_ERROR(CheckOptions(options));
    if (!weight.device().is_cpu()) {
      return absl::InvalidArgumentError("Int8Linear: its integer kernel runs on the CPU only");
    }
    at::Tensor codes, scales;
    QuantizeRowsSymmetric(weight.to(at::kFloat), options.weight_bits, &codes, &scales);
    return FromCodes(codes, scales, bias, options, compute_dtype);
  });
}

absl::StatusOr<std::unique_ptr<Int8Linear>> Int8Linear::FromCodes(const at::Tensor& codes,
                                                                  const at::Tensor& weight_scales,
                                                                  const at::Tensor& bias, const Options& options,
                                                                  at::ScalarType compute_dtype) {
  return CatchExceptions("Int8Linear::FromCodes", [&]() -> absl::StatusOr<std::unique_ptr<Int8Linear>> {
    LLMQ_RETURN_IF_ERROR(CheckOptions(options));
    if (!codes.defined() || codes.dim() != 2 || codes.numel() == 0 || codes.scalar_type() != at::kChar ||
        !codes.device().is_cpu()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Int8Linear: codes must be a non-empty 2-D int8 CPU tensor, got ", codes.defined() ? Shape(codes) : "nothing"));
    }
    const int64_t out = codes.size(0);
    const int q = (1 << (options.weight_bits - 1)) - 1;
    const int lowest = codes.min().item<int>(), highest = codes.max().item<int>();
    if (lowest < -q || highest > q) {
      return absl::InvalidArgumentError(absl::StrCat("Int8Linear: codes span [", lowest, ", ", highest,
                                                     "], outside [", -q, ", ", q, "] of ", options.weight_bits,
                                                     "-bit weights"));
    }
    if (!weight_scales.defined() || weight_scales.scalar_type() != at::kFloat || weight_scales.dim() != 1 ||
        weight_scales.size(0) != out || !weight_scales.device().is_cpu()) {
      return absl::InvalidArgumentError(absl::StrCat("Int8Linear: weight scales must be float32 [", out,
                                                     "] on the CPU, got ",
                                                     weight_scales.defined() ? Shape(weight_scales) : "nothing"));
    }
    if (!(weight_scales >= 0).all().item<bool>() || !at::isfinite(weight_scales).all().item<bool>()) {
      return absl::InvalidArgumentError("Int8Linear: weight scales must be finite and non-negative");
    }
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
      return absl::InvalidArgumentError(absl::StrCat("Int8Linear: bias must have ", out, " entries"));
    }
    std::unique_ptr<Int8Linear> layer(new Int8Linear());
    layer->options_ = options;
    layer->weights_ = PackInt8Weights(codes.contiguous());
    layer->weight_scales_ = weight_scales.contiguous();
    if (bias.defined()) layer->bias_ = bias.to(compute_dtype).contiguous();
    return layer;
  });
}

at::Tensor Int8Linear::DequantizedWeight() const { return Codes().to(at::kFloat) * weight_scales_.unsqueeze(1); }

at::Tensor Int8Linear::Forward(const at::Tensor& x) const {
  const int64_t in = in_features(), out = out_features();
  TORCH_CHECK(x.size(-1) == in, "Int8Linear: input has ", x.size(-1), " features, expected ", in);
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = out;
  at::Tensor x2 = x.reshape({-1, in}).to(at::kCPU, at::kFloat).contiguous();  // (rows, in)
  at::Tensor outlier_columns;                                                 // (n_outliers) int64
  if (options_.outlier_threshold >= 0 && x2.size(0) > 0) {
    outlier_columns = at::nonzero(x2.abs().amax({0}) > options_.outlier_threshold).reshape({-1});
    columns_seen_ += in;
    outlier_columns_ += outlier_columns.numel();
  }
  const bool has_outliers = outlier_columns.defined() && outlier_columns.numel() > 0;
  at::Tensor regular = x2;
  if (has_outliers) regular = x2.index_fill(1, outlier_columns, 0.0);
  at::Tensor codes, scales;  // (rows, in) int8, (rows) float32
  QuantizeRowsSymmetric(regular, options_.activation_bits, &codes, &scales);
  const at::Tensor c = Int8MatMul(codes, weights_);  // (rows, out) int32
  at::Tensor y = at::empty({c.size(0), out}, at::kFloat);
  const int32_t* cp = c.data_ptr<int32_t>();
  const float* sp = scales.data_ptr<float>();
  const at::Tensor weight_scales = weight_scales_.to(at::kFloat).contiguous();
  const float* wp = weight_scales.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  ParallelFor(0, c.size(0), internal::RowGrain(out), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) ScaleInt32(cp + r * out, out, sp[r], wp, yp + r * out);
  });
  if (has_outliers) {
    at::Tensor x_outliers = x2.index_select(1, outlier_columns).to(at::kHalf).to(at::kFloat);  // (rows, n_o)
    at::Tensor w_outliers = (UnpackInt8Columns(weights_, outlier_columns).to(at::kFloat) *
                             weight_scales_.unsqueeze(1)).to(at::kHalf).to(at::kFloat);  // (out, n_o)
    y.addmm_(x_outliers, w_outliers.t());
  }
  if (bias_.defined()) y.add_(bias_.to(at::kFloat));
  return y.to(x.device(), x.scalar_type()).view(out_shape);
}

int64_t Int8Linear::WeightBytes() const {
  int64_t bytes = weights_.Bytes() + weight_scales_.numel() * 4;
  if (bias_.defined()) bytes += bias_.numel() * static_cast<int64_t>(bias_.element_size());
  return bytes;
}

std::string Int8Linear::Describe() const {
  std::string s = absl::StrCat("int8 w", options_.weight_bits, "a", options_.activation_bits,
                               " per-channel weights, per-token activations, int32 accumulation",
                               " (", Int8GemmKernels(), ")");
  if (options_.weight_bits < 8 || options_.activation_bits < 8) absl::StrAppend(&s, ", below 8 bits fake-quantized in int8 storage");
  if (options_.outlier_threshold >= 0) {
    absl::StrAppend(&s, ", fp16 outlier columns above ", options_.outlier_threshold);
  }
  return s;
}

}  // namespace llmq
