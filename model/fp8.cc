#include "model/fp8.h"

#include <algorithm>
#include <array>
#include <cmath>
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

// Rounds |x| (finite, >= 0) to the format without saturating: the grid spacing at x's
// binade (or the subnormal spacing below the smallest normal) times an integer, the integer
// rounded half to even by nearbyint (the default rounding mode).
double RoundMagnitude(double a, const Layout& layout) {
  if (a == 0) return 0;
  const int min_exponent = 1 - layout.bias;  // of the smallest normal
  int exponent = std::ilogb(a);
  if (exponent < min_exponent) exponent = min_exponent;
  const double quantum = std::ldexp(1.0, exponent - layout.mantissa_bits);
  return std::nearbyint(a / quantum) * quantum;
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
  const double max = Fp8Max(format);
  const double a = std::fabs(static_cast<double>(x));
  const double rounded = a >= max ? max : std::min(RoundMagnitude(a, LayoutOf(format)), max);
  return static_cast<float>(std::signbit(x) ? -rounded : rounded);
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
