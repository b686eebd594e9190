// A linear layer over real packed low-bit weights: it holds only the packed codes,
// the group scales and zeros (and bias), never a full-precision copy of W, and computes
// y = x W^T + b by dequantizing on the fly, tile by tile.
//
// Storage (what WeightBytes() counts, and what a 4-bit model really occupies):
//   codes  (out, ceil(in * bits / 8)) uint8 — each row's codes packed little-endian
//          along the input dimension (4-bit: two per byte, low nibble first; 2-bit: four
//          per byte; 3-bit: eight codes in three bytes; 8-bit: one per byte);
//   scales (out, groups) float16;
//   zeros  (out, ceil(groups * bits / 8)) uint8, packed like the codes;
//   g_idx  (in) int32, only when columns do not map to groups in order (act_order);
//          then, when its groups have plain sizes (GPTQ's act_order), also
//   column_order (in) int32: the codes are stored with their columns sorted by group
//          (stable), x is permuted the same way at run time, and the plain-group kernels
//          apply (as GPTQ's exllama kernels do);
//   bias   (out) in the compute dtype, if any.
//
// Forward on CPU: up to kFusedMaxRows (16) input rows go through a fused kernel that reads
// the packed bytes directly (model/quantized_kernels.h); more rows dequantize W a tile of
// rows at a time (about 8 MB) into a reused scratch buffer and GEMM it. On CUDA, where
// the build has the CUDA kernels (nvcc found) and the layer suits them, up to 8 rows run
// a packed GEMV kernel and more dequantize tiles in a kernel for cuBLAS
// (model/quantized_kernels_cuda.h); elsewhere the same tiling runs with ATen ops
// (ForwardWithAtenOps). x may be float32, bfloat16 or
// float16 on any device; y has x's dtype (float16 on CPU multiplies in float32: libtorch
// 1.13 has no CPU float16 GEMM). The CPU's bfloat16 units (AMX, AVX512-BF16) serve
// bfloat16 inputs only: a float32 model computes in float32 on every CPU.
// Forward is const and safe to call from several threads.
//
// Scales are stored in float16 (as in GPTQ checkpoints): Create rounds them, so the layer
// computes with fp16(scale), and DequantizedWeight() says exactly what it computes. quant/'s
// methods hand it scales already in float16 (the codes were computed with them), so for
// them the rounding changes nothing.
#ifndef LLMQ_MODEL_QUANTIZED_LINEAR_H_
#define LLMQ_MODEL_QUANTIZED_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/linear.h"
#include "model/packed_decode.h"

namespace llmq {

struct PackedWeights;      // model/quantized_kernels.h
struct CudaPackedWeights;  // model/quantized_kernels_cuda.h

// Packs codes (rows, n) uint8 with values < 2^bits into (rows, ceil(n * bits / 8)) uint8,
// on the codes' device (bit layout: model/packing.h). bits in 1..8.
// Throws c10::Error on bad arguments: callers at a module boundary use CatchExceptions.
at::Tensor PackCodes(const at::Tensor& codes, int bits);
// Inverse of PackCodes for `n` codes per row, on the packed tensor's device.
at::Tensor UnpackCodes(const at::Tensor& packed, int bits, int64_t n);

class QuantizedLinear : public Linear {
 public:
  // What the scales are stored in. Quantizers round their scales to it before computing
  // codes (quant/group_quant.h's QuantSpec::scale_dtype), so the layer holds the scales
  // its codes were computed with.
  static constexpr at::ScalarType kScaleDtype = at::kHalf;
  // The CPU forward's scratch for more than kFusedMaxRows rows where no fused GEMM takes
  // them (CpuKernels says "dequantized tiles"): W is dequantized into it this many bytes of
  // rows at a time (512 rows of a 4096-wide layer in float32), so the transient stays small
  // while each BLAS GEMM stays large enough to run at full speed.
  static constexpr int64_t kCpuScratchBytes = int64_t{8} << 20;
  // A product of a layer of at most kWholeTileMaxWeights weights (its whole float32 W in
  // 256 KB of L2) with fewer than kWholeTileMaxMacs multiply-adds takes the dequantized-tile
  // path for more than kFusedMaxRows rows even where the AVX-512 GEMM exists: packing x for
  // that GEMM and handing half to another thread cost more than so small a product, which
  // BLAS's small-matrix kernels compute in place. stories260K (64-wide), GPTQ 4-bit
  // perplexity against fp32's tokens/s, interleaved runs: one 512-token window per forward
  // 0.94-0.97x with the packed GEMM, 0.99-1.11x with one tile; eight windows per forward
  // (4096 rows, above the MAC bound) 0.98-1.00x with one tile, 1.03-1.06x with the GEMM.
  static constexpr int64_t kWholeTileMaxWeights = 65536;
  static constexpr int64_t kWholeTileMaxMacs = int64_t{1} << 24;

  // codes (out, in) uint8 < 2^bits; scales (out, groups) float; zeros (out, groups)
  // integer-valued float; g_idx (in) int32 or undefined; bias (out) or undefined.
  // group_size -1 means one group per row. With g_idx, scales may have any number of
  // groups that g_idx indexes; without, exactly ceil(in / group_size). Packs everything
  // and keeps it on the device of `codes`. `compute_dtype` is the model's dtype (the
  // bias is stored in it). Bad shapes or values give InvalidArgument.
  static absl::StatusOr<std::unique_ptr<QuantizedLinear>> Create(
      const at::Tensor& codes, const at::Tensor& scales, const at::Tensor& zeros,
      const at::Tensor& g_idx, const at::Tensor& bias, int bits, int64_t group_size,
      at::ScalarType compute_dtype);

  at::Tensor Forward(const at::Tensor& x) const override;
  // The CPU kernels Forward runs for activations of `dtype` on this CPU (layers without
  // per-column groups), as "1 row: <FusedKernelName>, 2+ rows: amx_bf16" where the bfloat16
  // units take every batch, else "1 row: <FusedKernelName>, 2-16 rows: <FusedKernelName>,
  // 17+ rows: <avx512_gemm | dequantized tiles + GEMM>" (model/quantized_kernels.h; the
  // bfloat16 units for bfloat16 only). Provenance and benchmarks name them with it.
  static std::string CpuKernels(at::ScalarType dtype);
  // The scratch Forward allocates for activations of `dtype` (layers without per-column
  // groups): kCpuScratchBytes where it dequantizes tiles, else 0.
  static int64_t CpuScratchBytes(at::ScalarType dtype);
  int64_t in_features() const override { return in_; }
  int64_t out_features() const override { return out_; }
  int64_t WeightBytes() const override;
  std::string Describe() const override;
  at::Tensor bias() const override { return bias_; }

  int bits() const { return bits_; }
  int64_t group_size() const { return group_size_; }  // -1 = whole row
  // The packed tensors' shape as the kernels read them (group_size = in for one group).
  PackedShape packed_shape() const;
  // Packed codes, columns in column_order() when that is defined, else in order.
  const at::Tensor& packed_codes() const { return codes_; }
  const at::Tensor& column_order() const { return column_order_; }
  const at::Tensor& scales() const { return scales_; }   // (out, groups) float16
  const at::Tensor& packed_zeros() const { return zeros_; }
  const at::Tensor& g_idx() const { return g_idx_; }

  // The unpacked views, for export and tests: codes (out, in) uint8 in column order,
  // zeros (out, groups) uint8, and the float32 weight they stand for (out, in).
  at::Tensor Codes() const;
  at::Tensor Zeros() const;
  at::Tensor DequantizedWeight() const;

  // Forward's device-generic path (tiles dequantized with ATen ops), which CUDA tensors
  // take; public so that CPU tests can hold it to the same standard.
  at::Tensor ForwardWithAtenOps(const at::Tensor& x) const;

 private:
  QuantizedLinear() = default;
  PackedWeights View() const;  // CPU tensors only
  // Where the CUDA kernels are built (LLMQ_CUDA_KERNELS, model/quantized_kernels_cuda.h):
  // the view of the device tensors, and Forward on them.
  CudaPackedWeights CudaView() const;
  at::Tensor ForwardCuda(const at::Tensor& x) const;
  // Whether kernels must look each column's group up in g_idx (groups not plain even
  // in column_order_).
  bool PerColumnGroups() const {
    return g_idx_.defined() && !column_order_.defined() && !plain_g_idx_;
  }
  at::Tensor ForwardTiledCpu(const at::Tensor& x) const;   // (rows, in) -> (rows, out)
  int bits_ = 4;
  int64_t group_size_ = -1;
  int64_t in_ = 0, out_ = 0, groups_ = 1;
  at::ScalarType compute_dtype_ = at::kFloat;
  at::Tensor codes_, scales_, zeros_, g_idx_, column_order_, bias_;
  bool plain_g_idx_ = false;  // g_idx given but equal to column // group_size
};

}  // namespace llmq

#endif  // LLMQ_MODEL_QUANTIZED_LINEAR_H_
