// The two 8-bit floating-point formats of the OCP FP8 specification (and of NVIDIA's
// Hopper, torch's float8_e4m3fn / float8_e5m2), as codes of one byte:
//   E4M3: sign, 4 exponent bits (bias 7), 3 mantissa bits. No infinities; S.1111.111 is
//         NaN, so the largest finite value is S.1111.110 = ±448. Subnormals (exponent
//         field 0): m/8 · 2^-6, the smallest 2^-9.
//   E5M2: sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like: S.11111.00 is ±inf,
//         S.11111.xx (xx != 0) NaN; the largest finite value 57344, the smallest subnormal
//         2^-16.
// Encoding rounds to nearest, ties to even (on the mantissa's last bit), keeps subnormals,
// and saturates: a finite value beyond the largest finite one (and ±inf) encodes as ±max,
// as quantizers do (a weight never becomes inf). NaN encodes as NaN.
#ifndef LLMQ_MODEL_FP8_H_
#define LLMQ_MODEL_FP8_H_

#include <cstdint>
#include <string>

namespace llmq {

enum class Fp8Format { kE4M3, kE5M2 };

// "e4m3" / "e5m2".
const char* Fp8FormatName(Fp8Format format);
// Largest finite value: 448 (E4M3), 57344 (E5M2).
float Fp8Max(Fp8Format format);

// x rounded to the nearest value of the format (ties to even, saturating), as a float.
float RoundToFp8(float x, Fp8Format format);
// out[i] = RoundToFp8(x[i] / scale, format) * scale for i < n (NaN stays NaN): a loop the
// compiler vectorises, for activations.
void RoundToFp8Scaled(const float* x, int64_t n, float scale, Fp8Format format, float* out);
// The code of RoundToFp8(x).
uint8_t EncodeFp8(float x, Fp8Format format);
// The value of a code (exact in float32).
float DecodeFp8(uint8_t code, Fp8Format format);
// All 256 values, indexed by code: what kernels use to decode.
const float* Fp8DecodeTable(Fp8Format format);

}  // namespace llmq

#endif  // LLMQ_MODEL_FP8_H_
