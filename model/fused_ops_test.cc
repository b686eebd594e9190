// The fused element-wise steps against float64 formulas and ATen's ops: RMSNorm, the
// gated activation (bfloat16 silu rounded once, as torch 2.x), the rotary embedding (bit
// for bit ATen's ops), both dtypes.
#include "model/fused_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/quantized_kernels.h"

namespace llmq {
namespace {

// Relative differences of a and b (same shape), elementwise, in float64.
at::Tensor RelativeDiff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
  return (a64 - b64).abs() / b64.abs().clamp_min(1e-30);
}

TEST(FusedOpsTest, RmsNormIsHuggingFacesFormula) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512: transformer.cc uses the ATen ops";
  at::manual_seed(5);
  const double eps = 1e-5;
  for (int64_t n : {1, 15, 64, 100, 2048}) {
    const at::Tensor x = at::randn({3, 7, n}) * 3;
    const at::Tensor w = at::randn({n});
    // float32 against the float64 formula: the sum of squares, sqrt and the two products
    // each within an ulp or so.
    const at::Tensor x64 = x.to(at::kDouble);
    const at::Tensor want = w.to(at::kDouble) * (x64 * at::rsqrt(x64.pow(2).mean(-1, true) + eps));
    const at::Tensor got = RmsNorm(x, w, eps);
    ASSERT_TRUE(got.defined());
    EXPECT_LE(RelativeDiff(got, want).max().item<double>(), 1e-6) << "n=" << n;
    // bfloat16 against ATen's ops (transformer.cc's fallback): two roundings to bfloat16 on
    // the same float32 values, so equal but where a float32 ulp crosses a rounding
    // boundary (one bfloat16 step).
    const at::Tensor xb = x.to(at::kBFloat16), wb = w.to(at::kBFloat16);
    const at::Tensor xf = xb.to(at::kFloat);
    const at::Tensor aten = wb * (xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(at::kBFloat16);
    const at::Tensor gotb = RmsNorm(xb, wb, eps);
    ASSERT_EQ(gotb.scalar_type(), at::kBFloat16);
    const at::Tensor rel = RelativeDiff(gotb, aten);
    EXPECT_LE(rel.max().item<double>(), 1.0 / 128) << "n=" << n;
    EXPECT_GE((rel == 0).to(at::kDouble).mean().item<double>(), 0.99) << "n=" << n;
  }
  EXPECT_FALSE(RmsNorm(at::randn({2, 8}), at::randn({8}).to(at::kBFloat16), eps).defined());  // mixed dtypes
  EXPECT_FALSE(RmsNorm(at::randn({8, 2}).t(), at::randn({8}), eps).defined());               // strided
}

TEST(FusedOpsTest, SiluMulIsSiluThenMul) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512: transformer.cc uses the ATen ops";
  at::manual_seed(6);
  for (int64_t n : {1, 17, 4096, 10000}) {  // spans of 4096, a tail
    at::Tensor gate = at::randn({n}) * 8;
    gate[0] = -200.0;  // exp(200) overflows: silu is -0
    const at::Tensor up = at::randn({n});
    const at::Tensor g64 = gate.to(at::kDouble);
    const at::Tensor want = g64 / (1 + (-g64).exp()) * up.to(at::kDouble);
    at::Tensor got = gate.clone();
    ASSERT_TRUE(SiluMulInPlace(got, up));
    // exp within ~2 ulp, divided, multiplied: 1e-6; near g = 0 silu is g / 2 exactly.
    EXPECT_LE(RelativeDiff(got, want).max().item<double>(), 1e-6) << "n=" << n;
    EXPECT_EQ(got[0].item<float>(), 0.0f);
    // bfloat16: silu rounded once to bfloat16, as torch 2.x computes it (torch 2.15's
    // silu on bfloat16 equals silu in float32 rounded, on 100k values; libtorch 1.13's
    // rounds intermediate steps and differs in ~22 % of them), then the product of two
    // bfloat16 numbers (exact in float32) rounded. Against the float64 silu rounded the
    // same way: equal but where silu's float32 error crosses a rounding boundary.
    const at::Tensor gb = gate.to(at::kBFloat16), ub = up.to(at::kBFloat16);
    const at::Tensor gb64 = gb.to(at::kDouble);
    const at::Tensor silu16 = (gb64 / (1 + (-gb64).exp())).to(at::kBFloat16);
    const at::Tensor wantb = (silu16.to(at::kDouble) * ub.to(at::kDouble)).to(at::kBFloat16);
    at::Tensor gotb = gb.clone();
    ASSERT_TRUE(SiluMulInPlace(gotb, ub));
    const at::Tensor rel = RelativeDiff(gotb, wantb);
    EXPECT_LE(rel.max().item<double>(), 1.0 / 64) << "n=" << n;  // a step of each rounding at most
    EXPECT_GE((rel == 0).to(at::kDouble).mean().item<double>(), 0.999) << "n=" << n;
  }
  at::Tensor g = at::randn({4});
  EXPECT_FALSE(SiluMulInPlace(g, at::randn({5})));
}

// Bit for bit the ATen ops transformer.cc runs without AVX-512 (x cos + rotate_half(x)
// sin, each op rounded to the dtype), on the projections' transposed layout, whole and
// partial rotary dimensions, batch 2 with per-batch positions.
TEST(FusedOpsTest, ApplyRotaryIsTheAtenOpsBitForBit) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512: transformer.cc uses the ATen ops";
  at::manual_seed(7);
  auto rotate_half = [](const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  };
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    for (auto [hd, rd] : {std::pair<int64_t, int64_t>{64, 64}, {80, 32}, {8, 8}, {50, 34}}) {
      const int64_t batch = 2, heads = 3, seq = 5;
      // (batch, seq, heads, hd) viewed as (batch, heads, seq, hd), as after a projection.
      const at::Tensor x = at::randn({batch, seq, heads, hd}).to(dtype).transpose(1, 2);
      const at::Tensor angle = at::rand({batch, 1, seq, rd}) * 100;
      const at::Tensor cos = angle.cos().to(dtype), sin = angle.sin().to(dtype);
      const at::Tensor rot = x.narrow(-1, 0, rd);
      const at::Tensor want = at::cat({rot * cos + rotate_half(rot) * sin, x.narrow(-1, rd, hd - rd)}, -1);
      const at::Tensor got = ApplyRotary(x, cos, sin);
      ASSERT_TRUE(got.defined());
      EXPECT_TRUE(at::equal(got, want)) << dtype << " hd=" << hd << " rd=" << rd << ": max difference "
                                        << (got.to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>();
    }
  }
  const at::Tensor x = at::randn({1, 2, 3, 8});
  EXPECT_FALSE(ApplyRotary(x, at::randn({1, 1, 3, 10}), at::randn({1, 1, 3, 10})).defined());  // rd > hd
  EXPECT_FALSE(ApplyRotary(x, at::randn({1, 1, 3, 8}).to(at::kBFloat16), at::randn({1, 1, 3, 8}).to(at::kBFloat16)).defined());
}

}  // namespace
}  // namespace llmq
