#include "model/quantized_linear.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/packing.h"
#include "model/quantized_kernels.h"
#ifdef LLMQ_CUDA_KERNELS
#include <c10/core/DeviceGuard.h>

#include "model/quantized_kernels_cuda.h"
#ifdef LLMQ_C10_CUDA
#include <c10/cuda/CUDAStream.h>
#endif
#endif

namespace llmq {
namespace {

std::string Shape(const at::Tensor& t) { return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]"); }

bool IsComputeDtype(at::ScalarType t) {
  return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf;
}

constexpr int64_t kDeviceTileElements = int64_t{1} << 22;

// The bfloat16 units (AMX, AVX512-BF16) only for bfloat16 inputs, where rounding x to
// bfloat16 is exact: a float32 model's packed layers compute in float32 on every CPU, as
// its dense layers do, so its numbers do not depend on the CPU generation (with the
// bfloat16 units, the demo's GPTQ perplexity differed by 7.5e-5 between the Debian and the
// torch 2.x build; in float32 by 4.3e-7). Held by Forward and CpuKernels alike. (On AMX,
// float32 inputs still use the tiles, exactly: MatmulFloat32Amx splits x in three parts.)
std::optional<ScopedFloat32Kernels> KernelsFor(at::ScalarType activations) {
  if (activations == at::kBFloat16) return std::nullopt;
  return std::optional<ScopedFloat32Kernels>(std::in_place);
}

// Libtorch 1.13 has no float16 GEMM on CPU: there, float16 layers multiply in float32.
at::ScalarType GemmDtype(at::ScalarType dtype, const at::Device& device) {
  return dtype == at::kHalf && device.is_cpu() ? at::kFloat : dtype;
}

// For a g_idx whose groups have the sizes of plain groups (what GPTQ act_order makes:
// group k holds group_size columns, in any order), the stable sort of the columns by
// group, (in) int32: in that order the groups are contiguous again and the plain
// kernels apply. Undefined for any other g_idx (the kernels then read g_idx per column).
at::Tensor GroupSortingPermutation(const at::Tensor& g_idx, int64_t in, int64_t group_size,
                                   int64_t groups) {
  const int64_t gs = group_size > 0 ? group_size : in;
  if (groups != (in + gs - 1) / gs) return at::Tensor();
  const int32_t* g = g_idx.data_ptr<int32_t>();
  std::vector<int64_t> count(groups, 0);
  for (int64_t c = 0; c < in; ++c) ++count[g[c]];
  for (int64_t k = 0; k < groups; ++k) {
    if (count[k] != std::min(gs, in - k * gs)) return at::Tensor();
  }
  std::vector<int32_t> order(in);
  for (int64_t c = 0; c < in; ++c) order[c] = static_cast<int32_t>(c);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return g[a] < g[b]; });
  return at::tensor(order, at::kInt);
}

#ifdef LLMQ_CUDA_KERNELS
// The stream ATen's CUDA ops run on, so that the kernels order with them. A libtorch
// without c10_cuda has no CUDA tensors to run them on; null (the legacy default stream)
// only keeps that build linking.
void* CurrentCudaStream() {
#ifdef LLMQ_C10_CUDA
  return c10::cuda::getCurrentCUDAStream().stream();
#else
  return nullptr;
#endif
}

void CheckCuda(int error, const char* what) {
  TORCH_CHECK(error == 0, "QuantizedLinear: ", what, " failed: ", CudaErrorString(error));
}

CudaDtype CudaDtypeOf(at::ScalarType t) {
  return t == at::kHalf ? CudaDtype::kFloat16 : t == at::kBFloat16 ? CudaDtype::kBFloat16 : CudaDtype::kFloat32;
}
#endif

}  // namespace

absl::StatusOr<std::unique_ptr<QuantizedLinear>> QuantizedLinear::Create(
    const at::Tensor& codes, const at::Tensor& scales, const at::Tensor& zeros,
    const at::Tensor& g_idx, const at::Tensor& bias, int bits, int64_t group_size,
    at::ScalarType compute_dtype) {
  return CatchExceptions("QuantizedLinear::Create", [&]() -> absl::StatusOr<std::unique_ptr<QuantizedLinear>> {
    auto invalid = [](auto&&... parts) {
      return absl::InvalidArgumentError(absl::StrCat("QuantizedLinear: ", parts...));
    };
    if (bits < 2 || bits > 8) return invalid("bits must be in 2..8, got ", bits);
    if (group_size == 0 || group_size < -1) return invalid("group_size must be -1 or > 0, got ", group_size);
    if (!IsComputeDtype(compute_dtype)) {
      return invalid("compute dtype must be float32, bfloat16 or float16, got ", c10::toString(compute_dtype));
    }
    if (!codes.defined() || codes.dim() != 2 || codes.scalar_type() != at::kByte) {
      return invalid("codes must be a 2-D uint8 tensor (out, in)",
                     codes.defined() ? absl::StrCat(", got ", Shape(codes), " ", c10::toString(codes.scalar_type())) : "");
    }
    const int64_t out = codes.size(0), in = codes.size(1);
    if (out == 0 || in == 0) return invalid("empty weight ", Shape(codes));
    const int64_t groups = group_size < 0 ? 1 : (in + group_size - 1) / group_size;
    if (!scales.defined() || scales.dim() != 2 || scales.size(0) != out ||
        (!g_idx.defined() && scales.size(1) != groups)) {
      return invalid("scales must be (out, groups) = [", out, ", ", groups, "], got ",
                     scales.defined() ? Shape(scales) : "undefined");
    }
    if (!zeros.defined() || !zeros.sizes().equals(scales.sizes())) {
      return invalid("zeros must have the shape of scales ", Shape(scales), ", got ",
                     zeros.defined() ? Shape(zeros) : "undefined");
    }
    const int64_t max_code = (int64_t{1} << bits) - 1;
    const at::Device device = codes.device();
    at::Tensor codes_cpu = codes.cpu().contiguous();  // (out, in)
    if (codes_cpu.max().item<int64_t>() > max_code) return invalid("a code exceeds ", max_code, " (", bits, " bits)");
    at::Tensor zeros_f = zeros.cpu().to(at::kFloat);  // (out, groups)
    at::Tensor zeros_r = zeros_f.round();
    if (!zeros_f.eq(zeros_r).all().item<bool>() || zeros_r.min().item<double>() < 0 ||
        zeros_r.max().item<double>() > static_cast<double>(max_code)) {
      return invalid("zeros must be integers in [0, ", max_code, "]");
    }
    at::Tensor scales_h = scales.cpu().to(at::kFloat).to(kScaleDtype).contiguous();  // (out, groups)
    if (!at::isfinite(scales_h).all().item<bool>()) return invalid("a scale is not finite in float16");
    at::Tensor g;
    if (g_idx.defined()) {
      if (g_idx.dim() != 1 || g_idx.size(0) != in || at::isFloatingType(g_idx.scalar_type())) {
        return invalid("g_idx must be an integer tensor (in) = [", in, "], got ", Shape(g_idx));
      }
      g = g_idx.cpu().to(at::kInt).contiguous();  // (in)
      if (g.min().item<int>() < 0 || g.max().item<int64_t>() >= scales.size(1)) {
        return invalid("g_idx values must be in [0, ", scales.size(1), ")");
      }
    }
    at::Tensor b;
    if (bias.defined()) {
      if (bias.dim() != 1 || bias.size(0) != out) return invalid("bias must be (out) = [", out, "], got ", Shape(bias));
      b = bias.to(device, compute_dtype).contiguous();
    }
    std::unique_ptr<QuantizedLinear> q(new QuantizedLinear());
    q->bits_ = bits;
    q->group_size_ = group_size;
    q->in_ = in;
    q->out_ = out;
    q->groups_ = scales.size(1);
    q->compute_dtype_ = compute_dtype;
    if (g.defined()) {
      q->g_idx_ = g.to(device);
      at::Tensor perm = GroupSortingPermutation(g, in, group_size, scales.size(1));  // (in)
      if (perm.defined() && perm.equal(at::arange(in, at::kInt))) {
        q->plain_g_idx_ = true;  // g_idx == column // group_size: nothing to permute
      } else if (perm.defined()) {
        q->column_order_ = perm.to(device);
        codes_cpu = codes_cpu.index_select(1, perm.to(at::kLong));  // (out, in) sorted by group
      }
    }
    q->codes_ = PackCodes(codes_cpu, bits).to(device);                 // (out, ceil(in*bits/8))
    q->scales_ = scales_h.to(device);                                  // (out, groups)
    q->zeros_ = PackCodes(zeros_r.to(at::kByte), bits).to(device);     // (out, ceil(groups*bits/8))
    q->bias_ = b;
    return q;
  });
}

int64_t QuantizedLinear::WeightBytes() const {
  int64_t bytes = 0;
  for (const at::Tensor* t : {&codes_, &scales_, &zeros_, &g_idx_, &column_order_, &bias_}) {
    if (t->defined()) bytes += t->numel() * static_cast<int64_t>(t->element_size());
  }
  return bytes;
}

std::string QuantizedLinear::Describe() const {
  return absl::StrCat("int", bits_, " g", group_size_, g_idx_.defined() ? " act_order" : "",
                      " packed, compute ", c10::toString(compute_dtype_));
}

at::Tensor QuantizedLinear::Codes() const {
  at::Tensor codes = UnpackCodes(codes_, bits_, in_);  // (out, in), in column_order_ if any
  if (!column_order_.defined()) return codes;
  return codes.index_select(1, at::argsort(column_order_.to(at::kLong)));
}

at::Tensor QuantizedLinear::Zeros() const { return UnpackCodes(zeros_, bits_, groups_); }

at::Tensor QuantizedLinear::DequantizedWeight() const {
  at::Tensor group_of_column = g_idx_.defined()
                                   ? g_idx_.to(at::kLong)
                                   : at::div(at::arange(in_, codes_.options().dtype(at::kLong)),
                                             group_size_ < 0 ? in_ : group_size_, "floor");  // (in)
  at::Tensor s = scales_.to(at::kFloat).index_select(1, group_of_column);    // (out, in)
  at::Tensor z = Zeros().to(at::kFloat).index_select(1, group_of_column);    // (out, in)
  return s * (Codes().to(at::kFloat) - z);
}

at::Tensor QuantizedLinear::Forward(const at::Tensor& x) const {
  TORCH_CHECK(x.size(-1) == in_, "QuantizedLinear: input has ", x.size(-1), " features, expected ", in_);
  if (!codes_.is_cpu() || !x.is_cpu()) {
#ifdef LLMQ_CUDA_KERNELS
    if (codes_.is_cuda() && x.device() == codes_.device() && !PerColumnGroups() &&
        CudaKernelsApply(CudaView()) && CudaKernelsUsable(codes_.device().index())) {
      return ForwardCuda(x);
    }
#endif
    return ForwardWithAtenOps(x);
  }
  const std::optional<ScopedFloat32Kernels> kernels = KernelsFor(x.scalar_type());
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = out_;
  at::Tensor x2 = x.reshape({-1, in_});  // (rows, in)
  if (column_order_.defined()) x2 = x2.index_select(1, column_order_);
  x2 = x2.contiguous();
  const int64_t rows = x2.size(0);
  at::Tensor y;                                       // (rows, out)
  const bool bf16 = rows >= 2 && !PerColumnGroups() && MatmulBf16Available();
  const bool amx_f32 = x2.scalar_type() == at::kFloat && !PerColumnGroups() && AmxFloat32Takes(rows, in_, out_);
  if (amx_f32 && MatmulFloat32Amx(View(), x2.data_ptr<float>(), rows,
                                  (y = at::empty({rows, out_}, x2.options())).data_ptr<float>())) {
    // done: float32 on AMX tiles
  } else if (bf16 || rows <= kFusedMaxRows) {
    at::Tensor xf = x2.to(at::kFloat).contiguous();
    y = at::empty({rows, out_}, xf.options());
    if (!bf16 || !MatmulBf16(View(), xf.data_ptr<float>(), rows, y.data_ptr<float>())) {
      FusedMatmul(View(), xf.data_ptr<float>(), rows, y.data_ptr<float>());
    }
    y = y.to(x.scalar_type());
  } else if (x2.scalar_type() == at::kFloat && !PerColumnGroups() &&
             (in_ * out_ > kWholeTileMaxWeights || rows * in_ * out_ >= kWholeTileMaxMacs)) {
    y = at::empty({rows, out_}, x2.options());
    if (!GemmFloat32(View(), x2.data_ptr<float>(), rows, y.data_ptr<float>())) {
      y = ForwardTiledCpu(x2);
    }
  } else {
    y = ForwardTiledCpu(x2);
  }
  if (bias_.defined()) y.add_(bias_.to(y.scalar_type()));
  return y.view(out_shape);
}

namespace {

// Whether Forward dequantizes tiles into kCpuScratchBytes for more than kFusedMaxRows rows
// of `dtype` (plain groups); call within KernelsFor(dtype).
bool PrefillUsesTiles(at::ScalarType dtype) {
  return !MatmulBf16Available() && !(dtype == at::kFloat && GemmFloat32Available());
}

}  // namespace

std::string QuantizedLinear::CpuKernels(at::ScalarType dtype) {
  const std::optional<ScopedFloat32Kernels> kernels = KernelsFor(dtype);
  if (MatmulBf16Available()) {
    return absl::StrCat("1 row: ", FusedKernelName(), ", 2+ rows: ", BatchedKernelName());
  }
  const std::string fused = absl::StrCat(
      "2-", kFusedMaxRows, " rows: ", BatchedKernelName(), ", ", kFusedMaxRows + 1, "+ rows: ",
      PrefillUsesTiles(dtype)
          ? "dequantized tiles + GEMM"
          : absl::StrCat("avx512_gemm (below ", kWholeTileMaxMacs,
                         " multiply-adds on layers of up to ", kWholeTileMaxWeights,
                         " weights: dequantized + GEMM)"));
  if (dtype == at::kFloat && MatmulFloat32AmxAvailable()) {
    return absl::StrCat("1 row: ", FusedKernelName(), ", ", kAmxFloat32MinRows,
                        "+ rows: amx_fp32_split (from ", kAmxFloat32MinMacs,
                        " multiply-adds, groups in 32s; else ", fused, ")");
  }
  return absl::StrCat("1 row: ", FusedKernelName(), ", ", fused);
}

int64_t QuantizedLinear::CpuScratchBytes(at::ScalarType dtype) {
  const std::optional<ScopedFloat32Kernels> kernels = KernelsFor(dtype);
  return PrefillUsesTiles(dtype) ? kCpuScratchBytes : 0;
}

PackedWeights QuantizedLinear::View() const {
  PackedWeights w;
  w.codes = codes_.data_ptr<uint8_t>();
  w.scales = scales_.data_ptr<c10::Half>();
  w.zeros = zeros_.data_ptr<uint8_t>();
  // With column_order_, codes are stored (and x is permuted) so that groups are plain.
  w.g_idx = PerColumnGroups() ? g_idx_.data_ptr<int32_t>() : nullptr;
  static_cast<PackedShape&>(w) = packed_shape();
  return w;
}

PackedShape QuantizedLinear::packed_shape() const {
  PackedShape s;
  s.bits = bits_;
  s.in = in_;
  s.out = out_;
  s.groups = groups_;
  s.group_size = group_size_ < 0 ? in_ : group_size_;
  s.code_row_bytes = codes_.size(1);
  s.zero_row_bytes = zeros_.size(1);
  return s;
}

// y = x W^T with W dequantized `tile` rows at a time into one reused scratch buffer.
at::Tensor QuantizedLinear::ForwardTiledCpu(const at::Tensor& x_in) const {
  const at::ScalarType dtype = GemmDtype(x_in.scalar_type(), x_in.device());
  const at::Tensor x = x_in.to(dtype);
  const int64_t tile_elements = kCpuScratchBytes / static_cast<int64_t>(x.element_size());
  const int64_t tile = std::min(out_, std::max<int64_t>(64, tile_elements / in_));
  at::Tensor y = at::empty({x.size(0), out_}, x.options());  // (rows, out)
  at::Tensor scratch = at::empty({tile, in_}, x.options());  // (tile, in)
  const PackedWeights w = View();
  for (int64_t r0 = 0; r0 < out_; r0 += tile) {
    const int64_t n = std::min(tile, out_ - r0);
    at::Tensor wt = scratch.narrow(0, 0, n);  // (n, in)
    if (dtype == at::kFloat) {
      DequantizeRows(w, r0, r0 + n, wt.data_ptr<float>());
    } else {
      DequantizeRows(w, r0, r0 + n, wt.data_ptr<c10::BFloat16>());
    }
    at::Tensor y_tile = y.narrow(1, r0, n);  // (rows, n), row stride out
    at::mm_out(y_tile, x, wt.t());
  }
  return y.to(x_in.scalar_type());
}

#ifdef LLMQ_CUDA_KERNELS
CudaPackedWeights QuantizedLinear::CudaView() const {
  CudaPackedWeights w;
  w.codes = codes_.data_ptr<uint8_t>();
  w.scales = reinterpret_cast<const uint16_t*>(scales_.data_ptr<at::Half>());
  w.zeros = zeros_.data_ptr<uint8_t>();
  w.device = codes_.device().index();
  static_cast<PackedShape&>(w) = packed_shape();
  return w;
}

// Up to kCudaGemvMaxRows rows straight from the packed codes in float32; more through
// dequantized tiles of W in x's dtype and cuBLAS (at::mm_out), as on the CPU.
at::Tensor QuantizedLinear::ForwardCuda(const at::Tensor& x) const {
  const c10::DeviceGuard guard(codes_.device());
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = out_;
  at::Tensor x2 = x.reshape({-1, in_});  // (rows, in)
  if (column_order_.defined()) x2 = x2.index_select(1, column_order_);
  const int64_t rows = x2.size(0);
  const CudaPackedWeights w = CudaView();
  void* stream = CurrentCudaStream();
  at::Tensor y;  // (rows, out)
  if (rows <= kCudaGemvMaxRows) {
    at::Tensor xf = x2.to(at::kFloat).contiguous();
    if (reinterpret_cast<uintptr_t>(xf.data_ptr()) % 16 != 0) xf = xf.clone();  // float4 loads
    y = at::empty({rows, out_}, xf.options());
    if (rows > 0) CheckCuda(CudaPackedGemv(w, xf.data_ptr<float>(), rows, y.data_ptr<float>(), stream), "packed GEMV");
  } else {
    const at::Tensor xd = x2.to(IsComputeDtype(x2.scalar_type()) ? x2.scalar_type() : at::kFloat).contiguous();
    const int64_t tile = std::min(out_, std::max<int64_t>(64, kDeviceTileElements / in_));
    y = at::empty({rows, out_}, xd.options());
    at::Tensor scratch = at::empty({tile, in_}, xd.options());  // (tile, in)
    for (int64_t r0 = 0; r0 < out_; r0 += tile) {
      const int64_t n = std::min(tile, out_ - r0);
      at::Tensor wt = scratch.narrow(0, 0, n);
      CheckCuda(CudaDequantizeRows(w, r0, r0 + n, CudaDtypeOf(xd.scalar_type()), wt.data_ptr(), stream),
                "dequantization");
      at::Tensor y_tile = y.narrow(1, r0, n);
      at::mm_out(y_tile, xd, wt.t());
    }
  }
  if (bias_.defined()) y.add_(bias_.to(y.scalar_type()));
  return y.to(x.scalar_type()).view(out_shape);
}
#endif

// The same with ATen ops only, for tensors on any device (CUDA included).
at::Tensor QuantizedLinear::ForwardWithAtenOps(const at::Tensor& x) const {
  TORCH_CHECK(x.size(-1) == in_, "QuantizedLinear: input has ", x.size(-1), " features, expected ", in_);
  if (x.dim() != 2) {
    std::vector<int64_t> out_shape = x.sizes().vec();
    out_shape.back() = out_;
    return ForwardWithAtenOps(x.reshape({-1, in_})).view(out_shape);
  }
  at::Tensor xd = x.to(codes_.device(), GemmDtype(x.scalar_type(), codes_.device()));
  if (column_order_.defined()) xd = xd.index_select(1, column_order_);
  const int64_t tile = std::min(out_, std::max<int64_t>(64, kDeviceTileElements / in_));
  at::Tensor group_of_column = PerColumnGroups()
                                   ? g_idx_.to(at::kLong)
                                   : at::div(at::arange(in_, codes_.options().dtype(at::kLong)),
                                             group_size_ < 0 ? in_ : group_size_, "floor");  // (in)
  at::Tensor y = at::empty({x.size(0), out_}, xd.options());  // (rows, out)
  for (int64_t r0 = 0; r0 < out_; r0 += tile) {
    const int64_t n = std::min(tile, out_ - r0);
    at::Tensor q = UnpackCodes(codes_.narrow(0, r0, n), bits_, in_);       // (n, in) uint8
    at::Tensor z = UnpackCodes(zeros_.narrow(0, r0, n), bits_, groups_);   // (n, groups)
    at::Tensor s = scales_.narrow(0, r0, n).to(at::kFloat);                // (n, groups)
    at::Tensor wt = ((q.to(at::kFloat) - z.to(at::kFloat).index_select(1, group_of_column)) *
                     s.index_select(1, group_of_column)).to(xd.scalar_type());  // (n, in)
    y.narrow(1, r0, n).copy_(at::matmul(xd, wt.t()));
  }
  if (bias_.defined()) y.add_(bias_.to(y.scalar_type()));
  return y.to(x.scalar_type());
}

}  // namespace llmq
