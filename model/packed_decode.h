// Reading packed low-bit codes (model/packing.h's layout) 32 at a time, with no torch and
// no CUDA headers, so that the CUDA kernels (model/quantized_kernels_cuda.cu) and the CPU
// tests that check them use the same functions.
//
// Code j of a row occupies bits [j*bits, (j+1)*bits) of the row's bytes, little-endian. So
// codes 32c .. 32c+31 fill exactly the 4*bits bytes from byte 4*bits*c, which read as
// `bits` little-endian 32-bit words hold code j of the chunk at bit j*bits of the
// concatenated words (a 3-bit code may straddle two words).
#ifndef LLMQ_MODEL_PACKED_DECODE_H_
#define LLMQ_MODEL_PACKED_DECODE_H_

#include <cstdint>

#if defined(__CUDACC__)
#define LLMQ_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LLMQ_HOST_DEVICE inline
#endif

namespace llmq {
namespace packed {

// Codes per chunk: the unit every CUDA kernel reads.
constexpr int kChunkCodes = 32;

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

// Chunk c (columns 32c .. 32c+31) of weight row o: where its codes start in a codes
// tensor of code_row_bytes per row, and its group (groups of group_size columns, a
// multiple of 32: a chunk lies in one group).
template <int kBits>
LLMQ_HOST_DEVICE int64_t ChunkOffset(int64_t code_row_bytes, int64_t o, int64_t c) {
  return o * code_row_bytes + c * (4 * kBits);
}
LLMQ_HOST_DEVICE int64_t ChunkGroup(int64_t c, int64_t group_size) {
  return c * kChunkCodes / group_size;
}

// The chunk's codes minus the group's zero z: exact small integers in float32.
template <int kBits>
LLMQ_HOST_DEVICE void ChunkMinusZero(const uint32_t (&words)[kBits], float z,
                                     float (&q)[kChunkCodes]) {
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int j = 0; j < kChunkCodes; ++j) q[j] = static_cast<float>(ChunkCode<kBits>(words, j)) - z;
}

}  // namespace packed
}  // namespace llmq

#endif  // LLMQ_MODEL_PACKED_DECODE_H_
