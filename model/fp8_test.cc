#include "model/fp8.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>
#include <nlohmann/json.hpp>

#include "common/files.h"

#include "model/fp8_linear.h"
#include "model/quantized_kernels.h"

namespace llmq {
namespace {

constexpr Fp8Format kE4M3 = Fp8Format::kE4M3;
constexpr Fp8Format kE5M2 = Fp8Format::kE5M2;

// Codes written out by hand from the bit layouts (sign | exponent | mantissa).
TEST(Fp8Test, E4M3EncodesHandPickedValues) {
  EXPECT_EQ(EncodeFp8(0.0f, kE4M3), 0x00);
  EXPECT_EQ(EncodeFp8(-0.0f, kE4M3), 0x80);
  EXPECT_EQ(EncodeFp8(1.0f, kE4M3), 0x38);     // 0 0111 000: 2^(7-7)
  EXPECT_EQ(EncodeFp8(-2.0f, kE4M3), 0xC0);    // 1 1000 000
  EXPECT_EQ(EncodeFp8(1.125f, kE4M3), 0x39);   // 1 + 1/8
  EXPECT_EQ(EncodeFp8(448.0f, kE4M3), 0x7E);   // 0 1111 110: 1.75 * 2^8, the largest finite
  EXPECT_EQ(EncodeFp8(std::ldexp(1.0f, -6), kE4M3), 0x08);  // smallest normal
  EXPECT_EQ(EncodeFp8(std::ldexp(7.0f, -9), kE4M3), 0x07);  // largest subnormal 7/8 * 2^-6
  EXPECT_EQ(EncodeFp8(std::ldexp(1.0f, -9), kE4M3), 0x01);  // smallest subnormal
  EXPECT_EQ(EncodeFp8(std::ldexp(-3.0f, -9), kE4M3), 0x83);
  EXPECT_EQ(EncodeFp8(std::numeric_limits<float>::quiet_NaN(), kE4M3), 0x7F);
}

TEST(Fp8Test, E4M3SaturatesAtFourHundredFortyEight) {
  EXPECT_EQ(EncodeFp8(449.0f, kE4M3), 0x7E);
  EXPECT_EQ(EncodeFp8(480.0f, kE4M3), 0x7E);  // would round up to 480 (no such value)
  EXPECT_EQ(EncodeFp8(1e6f, kE4M3), 0x7E);
  EXPECT_EQ(EncodeFp8(-1e6f, kE4M3), 0xFE);
  EXPECT_EQ(EncodeFp8(std::numeric_limits<float>::infinity(), kE4M3), 0x7E);
  EXPECT_EQ(RoundToFp8(-500.0f, kE4M3), -448.0f);
}

// Ties go to the even mantissa: halfway between two neighbours, the one whose last
// mantissa bit is 0.
TEST(Fp8Test, E4M3RoundsTiesToEven) {
  EXPECT_EQ(RoundToFp8(1.0625f, kE4M3), 1.0f);    // between 1 (m=0) and 1.125 (m=1)
  EXPECT_EQ(RoundToFp8(1.1875f, kE4M3), 1.25f);   // between 1.125 (m=1) and 1.25 (m=2)
  EXPECT_EQ(RoundToFp8(1.07f, kE4M3), 1.125f);    // above the tie
  EXPECT_EQ(RoundToFp8(432.0f, kE4M3), 448.0f);   // between 416 (m=5) and 448 (m=6)
  EXPECT_EQ(RoundToFp8(400.0f, kE4M3), 384.0f);   // between 384 (m=4) and 416 (m=5)
  // Subnormal ties: half the smallest subnormal goes to 0, 1.5 of it to 2 of it.
  EXPECT_EQ(RoundToFp8(std::ldexp(1.0f, -10), kE4M3), 0.0f);
  EXPECT_EQ(RoundToFp8(std::ldexp(3.0f, -10), kE4M3), std::ldexp(1.0f, -8));  // 1.5 -> 2
  EXPECT_EQ(RoundToFp8(std::ldexp(5.0f, -10), kE4M3), std::ldexp(1.0f, -8));  // 2.5 -> 2
  EXPECT_EQ(RoundToFp8(std::ldexp(3.0f, -11), kE4M3), std::ldexp(1.0f, -9));  // 0.75 -> 1
  // Across the subnormal / normal boundary: 15/16 * 2^-6 is halfway between 7/8 (m=7)
  // and 1 (the smallest normal, m=0 of the next binade).
  EXPECT_EQ(RoundToFp8(std::ldexp(15.0f, -10), kE4M3), std::ldexp(1.0f, -6));
}

TEST(Fp8Test, E5M2EncodesHandPickedValues) {
  EXPECT_EQ(EncodeFp8(1.0f, kE5M2), 0x3C);    // 0 01111 00
  EXPECT_EQ(EncodeFp8(57344.0f, kE5M2), 0x7B);  // 0 11110 11: 1.75 * 2^15
  EXPECT_EQ(EncodeFp8(1e9f, kE5M2), 0x7B);      // saturates, never inf
  EXPECT_EQ(EncodeFp8(std::ldexp(1.0f, -16), kE5M2), 0x01);  // smallest subnormal
  EXPECT_EQ(EncodeFp8(std::ldexp(1.0f, -14), kE5M2), 0x04);  // smallest normal
  EXPECT_EQ(RoundToFp8(1.125f, kE5M2), 1.0f);   // tie between 1 (m=0) and 1.25 (m=1)
  EXPECT_EQ(RoundToFp8(1.375f, kE5M2), 1.5f);   // tie between 1.25 (m=1) and 1.5 (m=2)
  EXPECT_TRUE(std::isinf(DecodeFp8(0x7C, kE5M2)));
  EXPECT_TRUE(std::isnan(DecodeFp8(0x7D, kE5M2)));
}

// Every finite code decodes to a value that encodes back to the same code (and the
// decoded values increase with the code within a sign).
TEST(Fp8Test, EveryFiniteCodeRoundTrips) {
  for (Fp8Format format : {kE4M3, kE5M2}) {
    float previous = -1;
    for (int code = 0; code < 128; ++code) {
      const float v = DecodeFp8(static_cast<uint8_t>(code), format);
      if (!std::isfinite(v)) continue;
      EXPECT_GT(v, previous) << code;
      previous = v;
      EXPECT_EQ(EncodeFp8(v, format), code) << Fp8FormatName(format) << " " << v;
      EXPECT_EQ(EncodeFp8(-v, format), code | 0x80) << Fp8FormatName(format) << " " << v;
    }
    EXPECT_EQ(previous, Fp8Max(format));
  }
}

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// torch's float8_e4m3fn / float8_e5m2 conversions (round to nearest even) on 2,000+ values
// per format: random magnitudes, every tie and the floats either side of it, recorded by
// tests/scripts/reference_fp8.py (torch 2.15). Bit-exact.
TEST(Fp8Test, RoundingMatchesTorchFloat8) {
  auto text = ReadFile("tests/fixtures/reference/fp8_torch.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json j = nlohmann::json::parse(*text);
  for (const auto& [name, format] : {std::pair<std::string, Fp8Format>{"e4m3", kE4M3}, {"e5m2", kE5M2}}) {
    const auto& pairs = j["formats"][name];
    ASSERT_GT(pairs.size(), 2000u);
    int mismatches = 0;
    for (const auto& pair : pairs) {
      const float x = FromBits(pair[0].get<uint32_t>()), expected = FromBits(pair[1].get<uint32_t>());
      const float got = RoundToFp8(x, format);
      if (std::memcmp(&got, &expected, 4) != 0 && ++mismatches <= 5) {
        ADD_FAILURE() << name << ": " << x << " -> " << got << ", torch " << expected;
      }
      EXPECT_EQ(DecodeFp8(EncodeFp8(x, format), format), expected) << name << " " << x;
    }
    EXPECT_EQ(mismatches, 0) << name;
    // The activation loop (RoundToFp8Scaled, vectorised) on the same values.
    std::vector<float> xs, expected, got(pairs.size());
    for (const auto& pair : pairs) {
      xs.push_back(FromBits(pair[0].get<uint32_t>()));
      expected.push_back(FromBits(pair[1].get<uint32_t>()));
    }
    RoundToFp8Scaled(xs.data(), static_cast<int64_t>(xs.size()), 1.0f, format, got.data());
    EXPECT_EQ(std::memcmp(got.data(), expected.data(), 4 * got.size()), 0) << name;
  }
}

// The finite codes of `format`.
std::vector<uint8_t> FiniteCodes(Fp8Format format) {
  std::vector<uint8_t> finite;
  for (int c = 0; c < 256; ++c) {
    if (std::isfinite(DecodeFp8(static_cast<uint8_t>(c), format))) finite.push_back(static_cast<uint8_t>(c));
  }
  return finite;
}

// (out, in) codes drawn from `finite`, and scales of either granularity.
at::Tensor RandomCodes(std::vector<uint8_t>& finite, int64_t out, int64_t in) {
  at::Tensor pick = at::randint(static_cast<int64_t>(finite.size()), {out, in}, at::kLong);
  return at::from_blob(finite.data(), {static_cast<int64_t>(finite.size())}, at::kByte)
      .index_select(0, pick.view({-1}))
      .view({out, in});
}
at::Tensor RandomScales(bool per_channel, int64_t out) {
  return per_channel ? at::rand({out}) * 0.01 + 1e-4 : at::full({1}, 2e-3, at::kFloat);
}

// A layer of random codes and scales, with its weight in float64.
struct RandomFp8 {
  at::Tensor codes, scales, weight;
  std::unique_ptr<Fp8Linear> layer;
};
RandomFp8 MakeRandomFp8(std::vector<uint8_t>& finite, int64_t out, int64_t in, bool per_channel, Fp8Format format) {
  RandomFp8 r;
  r.codes = RandomCodes(finite, out, in);
  r.scales = RandomScales(per_channel, out);
  Fp8Linear::Options options{format, per_channel, false};
  auto layer = Fp8Linear::FromCodes(r.codes, r.scales, at::Tensor(), options, at::kFloat);
  EXPECT_TRUE(layer.ok()) << layer.status();
  if (layer.ok()) {
    r.layer = std::move(*layer);
    r.weight = r.layer->DequantizedWeight().to(at::kDouble);
  }
  return r;
}

// The kernels' view of (out, in) codes and their scales.
Fp8Weights ViewOf(const at::Tensor& codes, const at::Tensor& scales, bool per_channel, Fp8Format format) {
  Fp8Weights view;
  view.codes = codes.data_ptr<uint8_t>();
  view.scales = scales.data_ptr<float>();
  view.per_channel = per_channel;
  view.format = format;
  view.in = codes.size(1);
  view.out = codes.size(0);
  return view;
}

// The layer computes with scale * decode(code); the largest |w| maps to 448 exactly, and
// forward equals x times that weight.
TEST(Fp8LinearTest, ForwardMatchesItsDequantizedWeight) {
  at::manual_seed(3);
  for (bool per_channel : {false, true}) {
    at::Tensor w = at::randn({24, 40});
    at::Tensor bias = at::randn({24});
    Fp8Linear::Options options;
    options.per_channel = per_channel;
    auto layer = Fp8Linear::Create(w, bias, options, at::kFloat);
    ASSERT_TRUE(layer.ok()) << layer.status();
    EXPECT_EQ((*layer)->WeightBytes(), 24 * 40 + (per_channel ? 24 : 1) * 4 + 24 * 4);
    at::Tensor wq = (*layer)->DequantizedWeight();
    // Within half a step of E4M3 (relative 2^-4) of the original, or of the subnormal step.
    const at::Tensor scale = per_channel ? w.abs().amax({1}, true) / 448 : w.abs().max() / 448;
    EXPECT_TRUE(((wq - w).abs() <= w.abs() / 16 + scale * std::ldexp(1.0, -10)).all().item<bool>());
    EXPECT_EQ((*layer)->codes().eq(0x7E).logical_or((*layer)->codes().eq(0xFE)).sum().item<int64_t>() >= 1, true);
    at::Tensor x = at::randn({5, 40});
    at::Tensor expected = at::matmul(x, wq.t()) + bias;
    EXPECT_TRUE(at::allclose((*layer)->Forward(x), expected, 1e-5, 1e-5));
  }
}

// Forward on every path its CPU kernels take (one input row from the codes, 2-16 rows in
// register tiles, more through the panel GEMM; and, where SetFusedKernelForTesting rules
// out AVX-512, decoded tiles through BLAS) equals x times DequantizedWeight in double
// precision within float32 rounding, on every finite code of both formats (subnormals,
// negative zero and the largest values included), either scale granularity, and widths
// with and without a partial vector at the end of a row.
TEST(Fp8LinearTest, EveryKernelPathMatchesTheDecodedWeight) {
  at::manual_seed(21);
  for (Fp8Format format : {kE4M3, kE5M2}) {
    std::vector<uint8_t> finite = FiniteCodes(format);
    for (bool per_channel : {false, true}) {
      for (int64_t in : {200, 256}) {
        const int64_t out = 70;
        RandomFp8 r = MakeRandomFp8(finite, out, in, per_channel, format);
        ASSERT_TRUE(r.layer);
        const at::Tensor& wq = r.weight;
        for (const char* kernels : {"", "avx2"}) {
          SetFusedKernelForTesting(kernels);
          for (int64_t rows : {1, 3, 16, 17, 50, 100}) {
            at::Tensor x = at::randn({rows, in});
            const at::Tensor xd = x.to(at::kDouble);
            const at::Tensor expected = at::matmul(xd, wq.t());
            const at::Tensor bound = at::matmul(xd.abs(), wq.abs().t()) * 1e-6 + 1e-30;
            const at::Tensor err = (r.layer->Forward(x).to(at::kDouble) - expected).abs();
            EXPECT_TRUE((err <= bound).all().item<bool>())
                << Fp8FormatName(format) << " per_channel " << per_channel << " in " << in << " rows " << rows
                << " kernels '" << kernels << "': worst error / bound " << (err / bound).max().item<double>();
          }
        }
        SetFusedKernelForTesting("");
      }
    }
  }
}

// Float32 inputs on AMX (internal::Fp8MatmulAmxSplit, what Forward takes from 2 rows and
// 2^24 multiply-adds there): x split in three bfloat16 parts against decode(code), exact in
// bfloat16, each chunk's float32 sum times the row's scale: within the float32 bound of
// x times DequantizedWeight in float64, on every finite code of both formats, either scale
// granularity, x over seven decades, ragged rows, columns and output rows; through Forward
// at a size that reaches the tiles too.
TEST(Fp8LinearTest, AmxSplitMatchesTheDecodedWeight) {
  if (!internal::HasAmxBf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  at::manual_seed(31);
  for (Fp8Format format : {kE4M3, kE5M2}) {
    std::vector<uint8_t> finite = FiniteCodes(format);
    for (bool per_channel : {false, true}) {
      for (const auto& [in, out] : std::vector<std::pair<int64_t, int64_t>>{{200, 70}, {256, 200}, {520, 520}}) {
        RandomFp8 r = MakeRandomFp8(finite, out, in, per_channel, format);
        ASSERT_TRUE(r.layer);
        const at::Tensor& wq = r.weight;
        const Fp8Weights view = ViewOf(r.codes, r.scales, per_channel, format);
        for (int64_t rows : {2, 17, 33, 64}) {
          at::Tensor x = at::randn({rows, in}) *
                         at::pow(10.0, at::randint(-3, 4, {rows, in}).to(at::kDouble)).to(at::kFloat);
          const at::Tensor xd = x.to(at::kDouble);
          const at::Tensor expected = at::matmul(xd, wq.t());
          const at::Tensor bound = at::matmul(xd.abs(), wq.abs().t()) * 1e-6 + 1e-30;
          at::Tensor y = at::full({rows, out}, std::nan(""), at::kFloat);
          ASSERT_TRUE(internal::Fp8MatmulAmxSplit(view, x.data_ptr<float>(), rows, y.data_ptr<float>()));
          const std::string what = std::string(Fp8FormatName(format)) + " per_channel " +
                                   std::to_string(per_channel) + " in " + std::to_string(in) + " out " +
                                   std::to_string(out) + " rows " + std::to_string(rows);
          at::Tensor err = (y.to(at::kDouble) - expected).abs();
          EXPECT_TRUE((err <= bound).all().item<bool>()) << what << ": worst error / bound "
                                                         << (err / bound).max().item<double>();
          if (rows * in * out >= kAmxFloat32MinMacs) {
            err = (r.layer->Forward(x).to(at::kDouble) - expected).abs();
            EXPECT_TRUE((err <= bound).all().item<bool>()) << what << " Forward: worst error / bound "
                                                           << (err / bound).max().item<double>();
          }
        }
      }
    }
  }
}

// The tiles see every bit of x and every code exactly: with one nonzero code per output
// row (the format's smallest subnormal, one, or its largest value) and power-of-two
// scales, each output is one exact product, so y is x times the decoded weight bit for bit.
TEST(Fp8LinearTest, AmxSplitCarriesEveryBitOfXAndCode) {
  if (!internal::HasAmxBf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  const int64_t out = 40, in = 96, rows = 20;
  at::manual_seed(8);
  for (Fp8Format format : {kE4M3, kE5M2}) {
    const uint8_t one = EncodeFp8(1.0f, format), tiny = 0x01,
                  largest = EncodeFp8(format == kE4M3 ? 448.0f : 57344.0f, format);
    at::Tensor codes = at::zeros({out, in}, at::kByte);
    at::Tensor col = at::randint(0, in, {out}, at::kLong);
    for (int64_t o = 0; o < out; ++o) {
      const uint8_t pick[] = {one, tiny, largest, static_cast<uint8_t>(tiny | 0x80)};
      codes[o][col[o].item<int64_t>()] = pick[o % 4];
    }
    at::Tensor scales = at::pow(2.0, -at::randint(0, 6, {out}, at::kLong).to(at::kDouble)).to(at::kFloat);
    const Fp8Weights view = ViewOf(codes, scales, true, format);
    at::Tensor x = at::randn({rows, in});
    at::Tensor y = at::empty({rows, out}, at::kFloat);
    ASSERT_TRUE(internal::Fp8MatmulAmxSplit(view, x.data_ptr<float>(), rows, y.data_ptr<float>()));
    for (int64_t o = 0; o < out; ++o) {
      const int64_t c = col[o].item<int64_t>();
      const double w = DecodeFp8(codes[o][c].item<uint8_t>(), format) * scales[o].item<float>();
      at::Tensor expected = (x.select(1, c).to(at::kDouble) * w).to(at::kFloat);
      EXPECT_TRUE(y.select(1, o).equal(expected)) << Fp8FormatName(format) << " output " << o << ": max |diff| "
                                                  << (y.select(1, o) - expected).abs().max().item<float>();
    }
  }
}

TEST(Fp8LinearTest, ActivationsAreRoundedPerToken) {
  at::Tensor x = at::tensor({448.0f, 1.0625f, 3.0f, 0.0f, 896.0f, 2.125f, 6.0f, 0.0f}).view({2, 4});
  at::Tensor q = FakeQuantizeFp8PerToken(x, kE4M3);
  // Row 0: scale 1: 1.0625 -> 1 (tie to even). Row 1: scale 2, the same values twice.
  at::Tensor expected = at::tensor({448.0f, 1.0f, 3.0f, 0.0f, 896.0f, 2.0f, 6.0f, 0.0f}).view({2, 4});
  EXPECT_TRUE(q.equal(expected)) << q;
}

// A layer rebuilt from its codes and scales is the same layer, on either format and
// granularity; codes that are NaN or infinite in the format (never a quantizer's output)
// and scales of the other granularity are refused.
TEST(Fp8LinearTest, FromCodesRebuildsTheLayerAndChecksItsParts) {
  at::manual_seed(9);
  at::Tensor w = at::randn({19, 23});
  at::Tensor x = at::randn({4, 23});
  for (Fp8Format format : {Fp8Format::kE4M3, Fp8Format::kE5M2}) {
    for (bool per_channel : {false, true}) {
      Fp8Linear::Options options{format, per_channel, /*activations=*/per_channel};
      auto layer = Fp8Linear::Create(w, at::Tensor(), options, at::kFloat);
      ASSERT_TRUE(layer.ok()) << layer.status();
      auto again = Fp8Linear::FromCodes((*layer)->codes(), (*layer)->scales(), at::Tensor(), options, at::kFloat);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_TRUE((*layer)->Forward(x).equal((*again)->Forward(x)));
      Fp8Linear::Options other = options;
      other.per_channel = !per_channel;
      EXPECT_FALSE(Fp8Linear::FromCodes((*layer)->codes(), (*layer)->scales(), at::Tensor(), other, at::kFloat).ok());
    }
  }
  Fp8Linear::Options e5m2{Fp8Format::kE5M2, false, false};
  auto layer = Fp8Linear::Create(w, at::Tensor(), e5m2, at::kFloat);
  ASSERT_TRUE(layer.ok());
  at::Tensor codes = (*layer)->codes().clone();
  codes[1][2] = 0x7c;  // E5M2 +inf (E4M3 reads it as 384: finite there)
  auto bad = Fp8Linear::FromCodes(codes, (*layer)->scales(), at::Tensor(), e5m2, at::kFloat);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("code 0x7c at [1, 2] is infinite in e5m2"), absl::string_view::npos)
      << bad.status();
  Fp8Linear::Options e4m3{Fp8Format::kE4M3, false, false};
  EXPECT_TRUE(Fp8Linear::FromCodes(codes, (*layer)->scales(), at::Tensor(), e4m3, at::kFloat).ok());
}

}  // namespace
}  // namespace llmq
