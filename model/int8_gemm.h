// Integer GEMM for W8A8 layers: C = A Bᵀ with A (m, k) int8 activations, B (n, k) int8
// weights, C (m, n) int32, accumulated exactly in 32-bit integers (|a|, |b| <= 127 and
// k < 2^17 cannot overflow).
//
// B is packed once (PackInt8Weights) into blocks of 16 output rows × 4 columns, the layout
// of AVX-512 VNNI's vpdpbusd, which adds four u8·s8 products into each of 16 int32 lanes.
// Its first operand is unsigned, so A goes in as a + 128 (a XOR 0x80) and 128 · Σ_k B[n, k]
// (kept per row at packing) is subtracted afterwards. 16 consecutive steps of a block are
// also an AMX B tile (16 rows of 16 outputs × 4 columns), which TDPBSSD multiplies by 16
// rows of A as they are (signed × signed). Dispatch at run time: AMX-INT8 from two rows of
// A where the CPU has it, VNNI where it has avx512_vnni, else a portable scalar loop over
// the same layout; all sum exactly, so all give the same integers.
// (Debian's libtorch 1.13 offers no int8 GEMM outside its quantized-tensor operators, so
// llmq carries this one.)
#ifndef LLMQ_MODEL_INT8_GEMM_H_
#define LLMQ_MODEL_INT8_GEMM_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace llmq {

struct PackedInt8Weights {
  at::Tensor data;      // (ceil(n/16), ceil(k/4), 16, 4) int8, zero padded
  at::Tensor row_sums;  // (n) int32: Σ_k B[n, k]
  int64_t n = 0, k = 0;
  // Bytes held (packed codes with their padding, and the row sums).
  int64_t Bytes() const;
};

// kAuto: AMX from kInt8AmxMinRows rows where the CPU has AMX-INT8, else VNNI where it has
// that, else the scalar loop. kVnni / kAmx on a CPU without them fall back a step down.
enum class Int8Kernel { kAuto, kScalar, kVnni, kAmx };
constexpr int64_t kInt8AmxMinRows = 2;

// b: (n, k) int8 on the CPU.
PackedInt8Weights PackInt8Weights(const at::Tensor& b);
// The (n, k) int8 matrix back, or only the columns `columns` (int64 indices): (n, |columns|).
at::Tensor UnpackInt8Weights(const PackedInt8Weights& b);
at::Tensor UnpackInt8Columns(const PackedInt8Weights& b, const at::Tensor& columns);

// a: (m, k) int8 CPU -> (m, n) int32. kVnni on a CPU without VNNI falls back to kScalar.
at::Tensor Int8MatMul(const at::Tensor& a, const PackedInt8Weights& b, Int8Kernel kernel = Int8Kernel::kAuto);

// Whether the VNNI / AMX kernels run on this CPU.
bool Int8GemmHasVnni();
bool Int8GemmHasAmx();
// What kAuto runs on this CPU, for provenance: "amx-int8 from 2 rows, avx512-vnni for 1",
// "avx512-vnni" or "scalar".
std::string Int8GemmKernels();

}  // namespace llmq

#endif  // LLMQ_MODEL_INT8_GEMM_H_
