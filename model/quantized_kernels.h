// CPU kernels behind QuantizedLinear::Forward, over raw pointers into its packed tensors.
//
//   FusedMatmul      few input rows (decode): reads the packed bytes and accumulates dot
//                    products directly, one output row at a time, never materialising W.
//                    y[r, o] = sum_g s[o,g] * (sum_{c in g} q[o,c] x[r,c] - z[o,g] * xsum[r,g])
//   DequantizeRows   many input rows (prefill): a tile of W rows in the compute dtype,
//                    for a GEMM by the caller.
//
// Both parallelise over output rows with at::parallel_for. 4-bit rows without g_idx take
// an AVX-512 or AVX2 path when the CPU has it (runtime cpuid); everything else a portable
// path that g++ -O2 vectorises.
#ifndef LLMQ_MODEL_QUANTIZED_KERNELS_H_
#define LLMQ_MODEL_QUANTIZED_KERNELS_H_

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace llmq {

// A read-only view of a QuantizedLinear's CPU tensors.
struct PackedWeights {
  const uint8_t* codes = nullptr;     // (out, code_row_bytes)
  const c10::Half* scales = nullptr;  // (out, groups)
  const uint8_t* zeros = nullptr;     // (out, zero_row_bytes)
  const int32_t* g_idx = nullptr;     // (in) or null: column c is in group c / group_size
  int bits = 4;
  int64_t in = 0, out = 0, groups = 1;
  int64_t group_size = 0;  // effective: `in` for one group per row
  int64_t code_row_bytes = 0, zero_row_bytes = 0;
};

// Most input rows FusedMatmul takes at once; more go through DequantizeRows + GEMM.
constexpr int64_t kFusedMaxRows = 8;

// y (rows, out) = x (rows, in) W^T, float32, row-major and contiguous; rows <= kFusedMaxRows.
void FusedMatmul(const PackedWeights& w, const float* x, int64_t rows, float* y);

// dst (r1 - r0, in) = W[r0:r1, :] in T (float, c10::BFloat16 or c10::Half).
template <typename T>
void DequantizeRows(const PackedWeights& w, int64_t r0, int64_t r1, T* dst);

// Which fused path this CPU takes for 4-bit rows: "avx512", "avx2" or "portable".
const char* FusedKernelName();

// Tests: restricts the fused path to `name` ("avx512", "avx2", "portable"; "" = best the
// CPU has). A path the CPU lacks falls back to the next one down. Not thread-safe.
void SetFusedKernelForTesting(const char* name);

namespace internal {
// The x86 4-bit kernels (quantized_kernels_x86.cc). Each computes, for output rows
// [o0, o1) and input rows [0, rows) (rows <= 4), y[r, o] from the deinterleaved input
// x_even[r] = x[r, 0::2], x_odd[r] = x[r, 1::2] (each (in + 1) / 2, zero-padded) and the
// group sums xsum (rows, groups). Return false when the CPU lacks the instructions.
bool Fused4BitAvx512(const PackedWeights& w, const float* const* x_even,
                     const float* const* x_odd, const float* xsum, int rows, int64_t o0,
                     int64_t o1, float* y);
bool Fused4BitAvx2(const PackedWeights& w, const float* const* x_even, const float* const* x_odd,
                   const float* xsum, int rows, int64_t o0, int64_t o1, float* y);
bool HasAvx512();
bool HasAvx2();
}  // namespace internal

}  // namespace llmq

#endif  // LLMQ_MODEL_QUANTIZED_KERNELS_H_
