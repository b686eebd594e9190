// A 16 x 16 transpose of 32-bit lanes in AVX-512 registers, for the kernel files that
// compile AVX-512 per function (quantized_kernels_x86.cc, quantized_kernels_bf16.cc):
// always inlined into its callers, whose target attributes include AVX-512F. Include only
// after <immintrin.h>, on x86-64 with GCC or Clang.
#ifndef LLMQ_MODEL_TRANSPOSE16_H_
#define LLMQ_MODEL_TRANSPOSE16_H_

namespace llmq {
namespace internal {

// col[j] lane i = row[i] lane j, for i, j < 16 (row and col may be the same array).
__attribute__((target("avx512f"), always_inline)) inline void Transpose16x16(const __m512* row,
                                                                            __m512* col) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(row[2 * i], row[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(row[2 * i], row[2 * i + 1]);
  }
  // u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {  // 4 x 4 transpose of 128-bit lanes
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    col[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    col[4 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    col[8 + j] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    col[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

}  // namespace internal
}  // namespace llmq

#endif  // LLMQ_MODEL_TRANSPOSE16_H_
