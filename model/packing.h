// Bit-stream packing of low-bit codes, row by row: code j of a row occupies bits
// [j*bits, (j+1)*bits) of the row's bytes, little-endian (bit 0 = least significant bit
// of byte 0). 4-bit: two codes per byte, low nibble first; 2-bit: four per byte;
// 3-bit: eight codes in three bytes; 8-bit: one per byte; 5-7 bits likewise.
//
// This is also the layout of a GPTQ int32 word read as four little-endian bytes, which
// is why the GPTQ export and import are thin re-arrangements over these functions.
// The public tensor-level entry points (PackCodes / UnpackCodes) are declared in
// model/quantized_linear.h; these are the raw row routines the kernels use.
#ifndef LLMQ_MODEL_PACKING_H_
#define LLMQ_MODEL_PACKING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace llmq {

// Bytes that hold `n` codes of `bits` bits.
inline int64_t PackedBytes(int64_t n, int bits) { return (n * bits + 7) / 8; }

// Writes the n codes (each < 2^bits) into packed[0, PackedBytes(n, bits)), which it
// fully overwrites (unused high bits of the last byte are zero).
void PackRow(const uint8_t* codes, int64_t n, int bits, uint8_t* packed);

// Reads codes first .. first + n - 1 of a packed row into out[0, n). Reads no byte past
// the one holding the last requested code.
void UnpackRow(const uint8_t* packed, int bits, int64_t first, int64_t n, uint8_t* out);

// UnpackCodes (model/quantized_linear.h) with ATen ops only: what non-CPU tensors use.
at::Tensor UnpackCodesWithAtenOps(const at::Tensor& packed, int bits, int64_t n);

}  // namespace llmq

#endif  // LLMQ_MODEL_PACKING_H_
