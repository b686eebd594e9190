#include "model/fp8.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace llmq {
namespace {

struct Layout {
  int mantissa_bits;
  int bias;
  bool has_inf;  // E5M2: the all-ones exponent is inf / NaN; E4M3 uses it for finite values
};

Layout LayoutOf(Fp8Format format) {
  return format == Fp8Format::kE4M3 ? Layout{3, 7, false} : Layout{2, 15, true};
}

uint8_t NanCode(Fp8Format format) { return format == Fp8Format::kE4M3 ? 0x7F : 0x7E; }

// |x| (>= 0) rounded to the grid of a format with `mantissa_bits` and smallest normal
// exponent min_exponent, ties to even, saturated at max. The grid spacing (quantum) at a's
// binade e (at min_exponent below it) is 2^(e - mantissa_bits); adding and then
// subtracting c = 2^(e - mantissa_bits + 23), a float whose spacing is that quantum,
// rounds a to a multiple of it in the default rounding mode (nearest, ties to even) and is
// otherwise exact (a < c). No branches or library calls, so loops over it vectorise.
inline float RoundMagnitude(float a, int mantissa_bits, int min_exponent, float max) {
  uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  // Capped at 64 so that c stays finite for huge (or infinite) a, which saturates anyway.
  const int e = std::clamp(static_cast<int>(bits >> 23) - 127, min_exponent, 64);
  const uint32_t c_bits = static_cast<uint32_t>(e - mantissa_bits + 23 + 127) << 23;
  float c;
  std::memcpy(&c, &c_bits, sizeof c);
  const float r = (a + c) - c;
  return a >= max ? max : std::min(r, max);
}

std::array<float, 256> MakeTable(Fp8Format format) {
  const Layout layout = LayoutOf(format);
  std::array<float, 256> table{};
  const int exponent_mask = (1 << (7 - layout.mantissa_bits)) - 1;
  const int mantissa_mask = (1 << layout.mantissa_bits) - 1;
  for (int code = 0; code < 256; ++code) {
    const int e = (code >> layout.mantissa_bits) & exponent_mask;
    const int m = code & mantissa_mask;
    float value;
    if (e == exponent_mask && layout.has_inf) {
      value = m == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
    } else if (e == exponent_mask && m == mantissa_mask && !layout.has_inf) {
      value = std::numeric_limits<float>::quiet_NaN();
    } else if (e == 0) {
      value = static_cast<float>(std::ldexp(static_cast<double>(m), 1 - layout.bias - layout.mantissa_bits));
    } else {
      value = static_cast<float>(
          std::ldexp(static_cast<double>((1 << layout.mantissa_bits) + m), e - layout.bias - layout.mantissa_bits));
    }
    table[code] = (code & 0x80) ? -value : value;
  }
  return table;
}

}  // namespace

const char* Fp8FormatName(Fp8Format format) { return format == Fp8Format::kE4M3 ? "e4m3" : "e5m2"; }

float Fp8Max(Fp8Format format) { return format == Fp8Format::kE4M3 ? 448.0f : 57344.0f; }

float RoundToFp8(float x, Fp8Format format) {
  if (std::isnan(x)) return x;
  const Layout layout = LayoutOf(format);
  return std::copysign(RoundMagnitude(std::fabs(x), layout.mantissa_bits, 1 - layout.bias, Fp8Max(format)), x);
}

void RoundToFp8Scaled(const float* x, int64_t n, float scale, Fp8Format format, float* out) {
  const Layout layout = LayoutOf(format);
  const int mantissa_bits = layout.mantissa_bits, min_exponent = 1 - layout.bias;
  const float max = Fp8Max(format);
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] / scale;
    out[i] = std::copysign(RoundMagnitude(std::fabs(v), mantissa_bits, min_exponent, max), v) * scale;
  }
}

uint8_t EncodeFp8(float x, Fp8Format format) {
  if (std::isnan(x)) return NanCode(format);
  const Layout layout = LayoutOf(format);
  const float r = RoundToFp8(x, format);
  const uint8_t sign = std::signbit(r) ? 0x80 : 0;
  const double a = std::fabs(static_cast<double>(r));
  if (a == 0) return sign;
  const int min_exponent = 1 - layout.bias;
  int exponent = std::ilogb(a);
  if (exponent < min_exponent) {  // subnormal: exponent field 0, the value in quanta
    return sign | static_cast<uint8_t>(std::ldexp(a, layout.mantissa_bits - min_exponent));
  }
  const int mantissa =
      static_cast<int>(std::ldexp(a, layout.mantissa_bits - exponent)) - (1 << layout.mantissa_bits);
  return sign | static_cast<uint8_t>(((exponent + layout.bias) << layout.mantissa_bits) | mantissa);
}

const float* Fp8DecodeTable(Fp8Format format) {
  static const std::array<float, 256> e4m3 = MakeTable(Fp8Format::kE4M3);
  static const std::array<float, 256> e5m2 = MakeTable(Fp8Format::kE5M2);
  return format == Fp8Format::kE4M3 ? e4m3.data() : e5m2.data();
}

float DecodeFp8(uint8_t code, Fp8Format format) { return Fp8DecodeTable(format)[code]; }

}  // namespace llmq
