// CUDA kernels behind QuantizedLinear::Forward on CUDA tensors, over raw device pointers
// into its packed tensors (no torch and no CUDA headers here: the kernels build with nvcc
// against any libtorch, or none). Built where CMake finds nvcc (LLMQ_CUDA_KERNELS);
// the layout is QuantizedLinear's (model/quantized_linear.h, model/packing.h).
//
//   CudaPackedGemv      few input rows (decode): a block per 4 output rows, its threads
//                       reading 8 codes (bits bytes) each per step, coalesced, and each x
//                       load serving the 4 rows; never materialising W;
//                       y[r, o] = sum_g s[o,g] * sum_{c in g} (q[o,c] - z[o,g]) x[r,c]
//                       in float32, the formula of the CPU kernels (model/quantized_kernels.h).
//   CudaDequantizeRows  many rows (prefill): a tile of W in the compute dtype, the values
//                       the CPU's DequantizeRows writes ((q - z) * s in float32, rounded to
//                       nearest even once), for the caller's cuBLAS GEMM.
//
// Both need CudaKernelsApply: bits 2, 3, 4 or 8, `in` a multiple of 32, groups a multiple
// of 32 columns (or one group per row), groups in column order (no per-column g_idx) and
// codes 16-byte aligned; x and dst 16-byte aligned too. They launch on `stream` (a
// cudaStream_t; null: the legacy default stream) on w.device and return the launch's
// cudaError_t (0: launched).
#ifndef LLMQ_MODEL_QUANTIZED_KERNELS_CUDA_H_
#define LLMQ_MODEL_QUANTIZED_KERNELS_CUDA_H_

#include <cstdint>
#include <string>

#include "model/packed_decode.h"

namespace llmq {

// A read-only view of a QuantizedLinear's device tensors.
struct CudaPackedWeights : PackedShape {
  int device = 0;                    // the CUDA device holding the tensors
  const uint8_t* codes = nullptr;    // (out, code_row_bytes)
  const uint16_t* scales = nullptr;  // (out, groups) IEEE float16 bits
  const uint8_t* zeros = nullptr;    // (out, zero_row_bytes), packed like the codes
};

// The element types CudaDequantizeRows writes.
enum class CudaDtype { kFloat32, kFloat16, kBFloat16 };

// Most input rows CudaPackedGemv takes; more go through CudaDequantizeRows + GEMM.
constexpr int64_t kCudaGemvMaxRows = 8;

bool CudaKernelsApply(const CudaPackedWeights& w);
// Whether the kernels can run on `device`: this build holds code for its architecture and
// the driver is new enough for the static CUDA runtime they link (a CUDA torch built for
// an older CUDA runs on older drivers). Asked once per device; where not, QuantizedLinear
// keeps its ATen-op path.
bool CudaKernelsUsable(int device);

// y (rows, out) = x (rows, in) W^T, float32, row-major, contiguous, on the device;
// 1 <= rows <= kCudaGemvMaxRows.
int CudaPackedGemv(const CudaPackedWeights& w, const float* x, int64_t rows, float* y,
                   void* stream);

// dst (r1 - r0, in), row-major, = W[r0:r1, :] in `dtype`.
int CudaDequantizeRows(const CudaPackedWeights& w, int64_t r0, int64_t r1, CudaDtype dtype,
                       void* dst, void* stream);

// The device's read bandwidth, GB/s (1e9 bytes per second): the best of `repeats` timed
// passes (after one warm-up) of a streaming sum over `bytes` of device memory (16-byte
// loads, every SM busy). The baseline the GEMV's bytes per second are a fraction of.
// Returns 0 when the device cannot be used (no GPU, out of memory).
double CudaReadBandwidthGBs(int64_t bytes, int repeats);

// The runtime's message for a cudaError_t.
std::string CudaErrorString(int error);

}  // namespace llmq

#endif  // LLMQ_MODEL_QUANTIZED_KERNELS_CUDA_H_
