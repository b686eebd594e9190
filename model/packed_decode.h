// Reading packed low-bit codes (model/packing.h's layout) with no torch and no CUDA
// headers, so that the CUDA kernels (model/quantized_kernels_cuda.cu) and the CPU tests
// that check them use the same functions.
//
// Code j of a row occupies bits [j*bits, (j+1)*bits) of the row's bytes, little-endian. So
//   an octet, codes 8i .. 8i+7, fills exactly the `bits` bytes from byte bits*i: read as
//     one little-endian integer, code k of the octet is at bit k*bits (the GEMV's unit:
//     consecutive lanes read consecutive octets, and x's columns in the same order);
//   a chunk, codes 32c .. 32c+31, fills the 4*bits bytes from byte 4*bits*c: read as
//     `bits` little-endian 32-bit words, code j is at bit j*bits of the concatenated
//     words, a 3-bit code possibly straddling two (the dequantization's unit).
#ifndef LLMQ_MODEL_PACKED_DECODE_H_
#define LLMQ_MODEL_PACKED_DECODE_H_

#include <cstdint>

#if defined(__CUDACC__)
#define LLMQ_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LLMQ_HOST_DEVICE inline
#endif

namespace llmq {

// The shape of a QuantizedLinear's packed tensors, shared by the CPU and CUDA kernels'
// views of them (PackedWeights, CudaPackedWeights).
struct PackedShape {
  int bits = 4;
  int64_t in = 0, out = 0, groups = 1;
  int64_t group_size = 0;  // effective: `in` for one group per row
  int64_t code_row_bytes = 0, zero_row_bytes = 0;
};

namespace packed {

constexpr int kOctetCodes = 8;
constexpr int kChunkCodes = 32;

// The float32 k - z for integers 0 <= k, z < 2^23 without a conversion instruction: the bits
// of 2^23 OR-ed with k are the float 2^23 + k exactly, and subtracting 2^23 + z (exact too)
// leaves k - z exactly.
LLMQ_HOST_DEVICE float CodeMinusZero(uint32_t k, float two23_plus_z) {
  const uint32_t bits = 0x4B000000u | k;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits) - two23_plus_z;
#else
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f - two23_plus_z;
#endif
}

// Code k (0 <= k < 8) of an octet read as a little-endian integer.
template <int kBits>
LLMQ_HOST_DEVICE uint32_t OctetCode(uint64_t octet, int k) {
  return static_cast<uint32_t>(octet >> (k * kBits)) & ((1u << kBits) - 1u);
}

// Code j (0 <= j < 32) of a chunk held in `words` (kBits little-endian 32-bit words).
template <int kBits>
LLMQ_HOST_DEVICE uint32_t ChunkCode(const uint32_t (&words)[kBits], int j) {
  const int bit = j * kBits, w = bit >> 5, shift = bit & 31;
  uint32_t v = words[w] >> shift;
  if (shift + kBits > 32) v |= words[w + 1] << (32 - shift);
  return v & ((1u << kBits) - 1u);
}

// Code j of a packed row of `bits`-bit codes (1 <= bits <= 8), reading only the one or
// two bytes that hold it: how the kernels read a group's zero point.
LLMQ_HOST_DEVICE uint32_t RowCode(const uint8_t* row, int bits, int64_t j) {
  const int64_t bit = j * bits;
  const int64_t byte = bit >> 3;
  const int shift = static_cast<int>(bit & 7);
  uint32_t v = static_cast<uint32_t>(row[byte]) >> shift;
  if (shift + bits > 8) v |= static_cast<uint32_t>(row[byte + 1]) << (8 - shift);
  return v & ((1u << bits) - 1u);
}

// Octet i / chunk c of weight row o: where its codes start in a codes tensor of
// code_row_bytes per row, and its group (groups of group_size columns, a multiple of 32:
// an octet or a chunk lies in one group).
template <int kBits>
LLMQ_HOST_DEVICE int64_t OctetOffset(int64_t code_row_bytes, int64_t o, int64_t i) {
  return o * code_row_bytes + i * kBits;
}
template <int kBits>
LLMQ_HOST_DEVICE int64_t ChunkOffset(int64_t code_row_bytes, int64_t o, int64_t c) {
  return o * code_row_bytes + c * (4 * kBits);
}
LLMQ_HOST_DEVICE int64_t GroupOf(int64_t column, int64_t group_size) { return column / group_size; }

// The codes minus the group's zero z (as 2^23 + z): exact small integers in float32.
template <int kBits>
LLMQ_HOST_DEVICE void OctetMinusZero(uint64_t octet, float two23_plus_z, float (&q)[kOctetCodes]) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int k = 0; k < kOctetCodes; ++k) q[k] = CodeMinusZero(OctetCode<kBits>(octet, k), two23_plus_z);
}
template <int kBits>
LLMQ_HOST_DEVICE void ChunkMinusZero(const uint32_t (&words)[kBits], float two23_plus_z,
                                     float (&q)[kChunkCodes]) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int j = 0; j < kChunkCodes; ++j) q[j] = CodeMinusZero(ChunkCode<kBits>(words, j), two23_plus_z);
}

}  // namespace packed
}  // namespace llmq

#endif  // LLMQ_MODEL_PACKED_DECODE_H_
