#include "model/fp8_linear.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/parallel.h"
#include "model/quantized_kernels.h"

namespace llmq {
namespace {

// Rows of W decoded per GEMM (about 8 MB of float32), as QuantizedLinear's tiles.
constexpr int64_t kTileBytes = int64_t{8} << 20;

std::string Shape(const at::Tensor& t) {
  if (!t.defined()) return "nothing";
  return absl::StrCat(c10::toString(t.scalar_type()), " [", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Fp8Linear>> Fp8Linear::Create(const at::Tensor& weight, const at::Tensor& bias,
                                                             const Options& options,
                                                             at::ScalarType compute_dtype) {
  return CatchExceptions("Fp8Linear::Create", [&]() -> absl::StatusOr<std::unique_ptr<Fp8Linear>> {
    if (!weight.defined() || weight.dim() != 2 || weight.numel() == 0 || !weight.is_floating_point()) {
      return absl::InvalidArgumentError("Fp8Linear: weight must be a non-empty 2-D floating-point tensor");
    }
    const int64_t out = weight.size(0), in = weight.size(1);
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
      return absl::InvalidArgumentError(absl::StrCat("Fp8Linear: bias must have ", out, " entries"));
    }
    at::Tensor w = weight.to(at::kCPU, at::kFloat).contiguous();  // (out, in)
    at::Tensor absmax = options.per_channel ? w.abs().amax({1}) : w.abs().max().reshape({1});
    at::Tensor scales = absmax / Fp8Max(options.format);
    scales = at::where(scales > 0, scales, at::ones_like(scales)).contiguous();  // (out) or (1)
    at::Tensor codes = at::empty({out, in}, at::kByte);
    const float* wp = w.data_ptr<float>();
    const float* sp = scales.data_ptr<float>();
    uint8_t* cp = codes.data_ptr<uint8_t>();
    ParallelFor(0, out, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float s = sp[options.per_channel ? r : 0];
        for (int64_t c = 0; c < in; ++c) cp[r * in + c] = EncodeFp8(wp[r * in + c] / s, options.format);
      }
    });
    return FromCodes(codes.to(weight.device()), scales.to(weight.device()), bias, options, compute_dtype);
  });
}

absl::StatusOr<std::unique_ptr<Fp8Linear>> Fp8Linear::FromCodes(const at::Tensor& codes, const at::Tensor& scales,
                                                                const at::Tensor& bias, const Options& options,
                                                                at::ScalarType compute_dtype) {
  return CatchExceptions("Fp8Linear::FromCodes", [&]() -> absl::StatusOr<std::unique_ptr<Fp8Linear>> {
    if (!codes.defined() || codes.dim() != 2 || codes.numel() == 0 || codes.scalar_type() != at::kByte) {
      return absl::InvalidArgumentError(
          absl::StrCat("Fp8Linear: codes must be a non-empty 2-D uint8 tensor, got ", Shape(codes)));
    }
    const int64_t out = codes.size(0), in = codes.size(1);
    const int64_t n_scales = options.per_channel ? out : 1;
    if (!scales.defined() || scales.scalar_type() != at::kFloat || scales.dim() != 1 ||
        scales.size(0) != n_scales) {
      return absl::InvalidArgumentError(absl::StrCat("Fp8Linear: ", options.per_channel ? "per-channel" : "per-tensor",
                                                     " scales must be float32 [", n_scales, "], got ", Shape(scales)));
    }
    const at::Tensor cpu_scales = scales.to(at::kCPU);
    if (!(cpu_scales >= 0).all().item<bool>() || !at::isfinite(cpu_scales).all().item<bool>()) {
      return absl::InvalidArgumentError("Fp8Linear: scales must be finite and non-negative");
    }
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
      return absl::InvalidArgumentError(absl::StrCat("Fp8Linear: bias must have ", out, " entries"));
    }
    const at::Tensor cpu_codes = codes.to(at::kCPU).contiguous();
    const uint8_t* cp = cpu_codes.data_ptr<uint8_t>();
    const float* table = Fp8DecodeTable(options.format);
    for (int64_t i = 0; i < cpu_codes.numel(); ++i) {
      if (!std::isfinite(table[cp[i]])) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "Fp8Linear: code 0x%02x at [%d, %d] is %s in %s, not a finite value", cp[i], i / in, i % in,
            std::isnan(table[cp[i]]) ? "NaN" : "infinite", Fp8FormatName(options.format)));
      }
    }
    std::unique_ptr<Fp8Linear> layer(new Fp8Linear());
    layer->options_ = options;
    layer->codes_ = codes.contiguous();
    layer->scales_ = scales.to(codes.device()).contiguous();
    if (bias.defined()) layer->bias_ = bias.to(compute_dtype).contiguous();
    return layer;
  });
}

at::Tensor FakeQuantizeFp8PerToken(const at::Tensor& x, Fp8Format format) {
  at::Tensor xc = x.to(at::kCPU, at::kFloat).contiguous();  // (rows, in)
  at::Tensor out = at::empty_like(xc);
  const int64_t rows = xc.size(0), in = xc.size(1);
  const float* xp = xc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float max = Fp8Max(format);
  ParallelFor(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = xp + r * in;
      float absmax = 0;
      for (int64_t c = 0; c < in; ++c) absmax = std::max(absmax, std::fabs(row[c]));
      const float s = absmax > 0 ? absmax / max : 1.0f;
      RoundToFp8Scaled(row, in, s, format, op + r * in);
    }
  });
  return out.to(x.device());
}

at::Tensor Fp8Linear::DequantizedWeight() const {
  at::Tensor codes = codes_.to(at::kCPU);
  at::Tensor table = at::from_blob(const_cast<float*>(Fp8DecodeTable(options_.format)), {256}, at::kFloat);
  at::Tensor w = table.index_select(0, codes.reshape({-1}).to(at::kLong)).view(codes.sizes());
  return (w * scales_.to(at::kCPU).view({options_.per_channel ? -1 : 1, 1})).to(codes_.device());
}

at::Tensor Fp8Linear::Forward(const at::Tensor& x) const {
  const int64_t in = in_features(), out = out_features();
  TORCH_CHECK(x.size(-1) == in, "Fp8Linear: input has ", x.size(-1), " features, expected ", in);
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = out;
  at::Tensor x2 = x.reshape({-1, in}).to(at::kFloat).contiguous();  // (rows, in)
  if (options_.activations) x2 = FakeQuantizeFp8PerToken(x2, options_.format);
  at::Tensor y;
  if (!codes_.device().is_cpu()) {
    y = at::matmul(x2, DequantizedWeight().t());
  } else {
    y = at::empty({x2.size(0), out}, x2.options());  // (rows, out)
    Fp8Weights view;
    view.codes = codes_.data_ptr<uint8_t>();
    view.scales = scales_.data_ptr<float>();
    view.per_channel = options_.per_channel;
    view.format = options_.format;
    view.in = in;
    view.out = out;
    if (!Fp8MatmulFloat32(view, x2.data_ptr<float>(), x2.size(0), y.data_ptr<float>())) {
      MatmulDecodedTiles(x2, y);
    }
  }
  if (bias_.defined()) y.add_(bias_.to(y.device(), at::kFloat));
  return y.to(x.scalar_type()).view(out_shape);
}

void Fp8Linear::MatmulDecodedTiles(const at::Tensor& x, at::Tensor& y) const {
  const int64_t in = in_features(), out = out_features();
  const int64_t tile = std::min(out, std::max<int64_t>(64, kTileBytes / 4 / in));
  at::Tensor scratch = at::empty({tile, in}, at::kFloat);  // (tile, in)
  const float* table = Fp8DecodeTable(options_.format);
  const uint8_t* cp = codes_.data_ptr<uint8_t>();
  const float* sp = scales_.data_ptr<float>();
  for (int64_t r0 = 0; r0 < out; r0 += tile) {
    const int64_t n = std::min(tile, out - r0);
    float* wp = scratch.data_ptr<float>();
    ParallelFor(r0, r0 + n, 16, [&](int64_t a, int64_t b) {
      for (int64_t r = a; r < b; ++r) {
        const float s = sp[options_.per_channel ? r : 0];
        const uint8_t* row = cp + r * in;
        float* dst = wp + (r - r0) * in;
        for (int64_t c = 0; c < in; ++c) dst[c] = table[row[c]] * s;
      }
    });
    at::Tensor y_tile = y.narrow(1, r0, n);
    at::mm_out(y_tile, x, scratch.narrow(0, 0, n).t());
  }
}

int64_t Fp8Linear::WeightBytes() const {
  int64_t bytes = codes_.numel() + scales_.numel() * static_cast<int64_t>(scales_.element_size());
  if (bias_.defined()) bytes += bias_.numel() * static_cast<int64_t>(bias_.element_size());
  return bytes;
}

std::string Fp8Linear::Describe() const {
  return absl::StrCat("fp8 ", Fp8FormatName(options_.format), options_.per_channel ? " per-channel" : " per-tensor",
                      options_.activations
                          ? absl::StrCat(" a8 ", Fp8FormatName(options_.format), " per-token (fake-quantized)")
                          : "");
}

}  // namespace llmq
