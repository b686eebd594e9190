#include "quant/group_quant.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace llmq {
namespace {

// Row [-1, 0.5, 2, 3.5] at 2 bits asymmetric, one group:
//   lo = -1, hi = 3.5, scale = 4.5 / 3 = 1.5, zero = round(1 / 1.5) = round(0.667) = 1
//   q = clamp(round(w / 1.5) + 1) = [round(-0.667)+1, round(0.333)+1, round(1.333)+1, round(2.333)+1]
//     = [0, 1, 2, 3]
TEST(GroupQuantTest, HandComputedAsymmetricRow) {
  at::Tensor w = at::tensor({-1.0f, 0.5f, 2.0f, 3.5f}).view({1, 4});
  GroupQuantized q = QuantizeGroups(w, {2, -1, false});
  EXPECT_TRUE(q.codes.equal(at::tensor({0, 1, 2, 3}, at::kByte).view({1, 4})));
  EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(q.zeros.item<float>(), 1.0f);
  // w' = 1.5 * (q - 1) = [-1.5, 0, 1.5, 3]
  EXPECT_TRUE(Dequantize(q).allclose(at::tensor({-1.5f, 0.0f, 1.5f, 3.0f}).view({1, 4})));
}

// Row of 5 columns, group size 2 (does not divide 5): groups [0,1] [2,3] [4].
//   [0.2, 0.6]: lo = 0 (clamped), hi = 0.6, 3 bits: scale = 0.6/7, zero = 0,
//               q = [round(2.333), round(7)] = [2, 7]
//   [-0.7, 0.0]: lo = -0.7, hi = 0, scale = 0.1, zero = round(7) = 7, q = [0, 7]
//   [0.0]: all-zero group: lo = -1, hi = 1, scale = 2/7; in float32 1 / (2/7) = 3.4999998,
//          so zero = 3 (the formula evaluated in float32, as GPTQ's reference does), q = [3]
TEST(GroupQuantTest, NonDividingGroupSizeQuantizesShortTail) {
  at::Tensor w = at::tensor({0.2f, 0.6f, -0.7f, 0.0f, 0.0f}).view({1, 5});
  GroupQuantized q = QuantizeGroups(w, {3, 2, false});
  ASSERT_EQ(q.scales.size(1), 3);
  EXPECT_TRUE(q.codes.equal(at::tensor({2, 7, 0, 7, 3}, at::kByte).view({1, 5})));
  EXPECT_NEAR(q.scales[0][0].item<float>(), 0.6f / 7, 1e-7);
  EXPECT_NEAR(q.scales[0][1].item<float>(), 0.1f, 1e-7);
  EXPECT_NEAR(q.scales[0][2].item<float>(), 2.0f / 7, 1e-7);
  EXPECT_TRUE(q.zeros.equal(at::tensor({0.0f, 7.0f, 3.0f}).view({1, 3})));
}

// Symmetric 4 bits: m = max(|min|, max) = 1.5, scale = 2m / 15 = 0.2, zero = 8.
//   w / scale = [-4.75, 0.25, 2.25, 7.5] -> round = [-5, 0, 2, 7 or 8] + 8, clamped to 15
//   = [3, 8, 10, 15]
TEST(GroupQuantTest, HandComputedSymmetricRow) {
  at::Tensor w = at::tensor({-0.95f, 0.05f, 0.45f, 1.5f}).view({1, 4});
  GroupQuantized q = QuantizeGroups(w, {4, -1, true});
  EXPECT_TRUE(q.codes.equal(at::tensor({3, 8, 10, 15}, at::kByte).view({1, 4})));
  EXPECT_NEAR(q.scales.item<float>(), 0.2f, 1e-7);
  EXPECT_FLOAT_EQ(q.zeros.item<float>(), 8.0f);
}

TEST(GroupQuantTest, ErrorIsBoundedByHalfAStep) {
  at::manual_seed(0);
  at::Tensor w = at::randn({64, 200});
  for (int bits : {2, 3, 4, 8}) {
    for (int64_t g : {int64_t{-1}, int64_t{16}, int64_t{64}, int64_t{30}}) {
      GroupQuantized q = QuantizeGroups(w, {bits, g, false});
      at::Tensor err = (Dequantize(q) - w).abs();
      const int64_t gs = g < 0 ? 200 : g;
      at::Tensor step = q.scales.repeat_interleave(gs, 1).narrow(1, 0, 200);
      EXPECT_TRUE((err <= step * 0.5 + 1e-6).all().item<bool>()) << bits << " " << g;
      EXPECT_LE(q.codes.max().item<int64_t>(), (1 << bits) - 1);
    }
  }
}

// Row [0, 1, 0.4999] at 4 bits, one group: lo = 0, hi = 1, scale = 1/15 = 0.0666667.
// In float16 (10 fraction bits; 1/15 lies in [2^-4, 2^-3), steps of 2^-14):
// 1/15 / 2^-14 = 1092.27 -> 1092, scale = 1092 / 16384 = 0.066650390625; zero = 0.
// 0.4999 / (1/15) = 7.4985 -> 7, but 0.4999 / 0.066650390625 = 7.50033 -> 8: the float16
// code is 8, and the weight the layer holds is 8 * 0.066650390625 = 0.533203125.
TEST(GroupQuantTest, Float16ScalesAreRoundedBeforeTheCodesAreComputed) {
  at::Tensor w = at::tensor({0.0f, 1.0f, 0.4999f}).view({1, 3});
  GroupQuantized f32 = QuantizeGroups(w, {4, -1, false});
  EXPECT_TRUE(f32.codes.equal(at::tensor({0, 15, 7}, at::kByte).view({1, 3})));
  EXPECT_EQ(f32.scales.item<float>(), 1.0f / 15);
  GroupQuantized f16 = QuantizeGroups(w, {4, -1, false, at::kHalf});
  EXPECT_EQ(f16.scales.item<float>(), 0.066650390625f);
  EXPECT_EQ(f16.zeros.item<float>(), 0.0f);
  EXPECT_TRUE(f16.codes.equal(at::tensor({0, 15, 8}, at::kByte).view({1, 3})));
  EXPECT_EQ(Dequantize(f16)[0][2].item<float>(), 0.533203125f);
}

// Asked for float16 (or bfloat16), every scale is exactly a value of that dtype, the codes
// are the nearest codes under the returned scales and zeros, and the error is at most half
// a (stored) step — except at the ends of the grid, which a scale rounded down by up to a
// relative eps (2^-11 float16, 2^-8 bfloat16) pulls in by up to 2^bits * eps steps.
// Symmetric, asymmetric, short last groups, scales below float16's normal range.
TEST(GroupQuantTest, ScalesAreExactlyRepresentableInTheStorageDtype) {
  at::manual_seed(3);
  at::Tensor w = at::randn({48, 70}) * 0.05;
  w.narrow(0, 0, 2).mul_(1e-7);  // scales below float16's normal range (6.1e-5)
  for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
    for (bool sym : {false, true}) {
      for (int bits : {2, 3, 4, 8}) {
        for (int64_t g : {int64_t{-1}, int64_t{16}, int64_t{32}}) {
          GroupQuantized q = QuantizeGroups(w, {bits, g, sym, dtype});
          const std::string where = std::string(c10::toString(dtype)) + " sym=" +
                                    std::to_string(sym) + " bits=" + std::to_string(bits) +
                                    " g=" + std::to_string(g);
          EXPECT_TRUE(q.scales.equal(q.scales.to(dtype).to(at::kFloat))) << where;
          EXPECT_TRUE((q.scales > 0).all().item<bool>()) << where;
          const int64_t gs = g < 0 ? 70 : g;
          at::Tensor group = at::div(at::arange(70, at::kLong), gs, "floor");
          at::Tensor s = q.scales.index_select(1, group), z = q.zeros.index_select(1, group);
          at::Tensor nearest = at::clamp(at::round(w / s) + z, 0, (1 << bits) - 1);
          EXPECT_TRUE(q.codes.to(at::kFloat).equal(nearest)) << where;
          at::Tensor err = (s * (q.codes.to(at::kFloat) - z) - w).abs();
          at::Tensor inner = (q.codes > 0).logical_and(q.codes < (1 << bits) - 1);
          EXPECT_TRUE((err <= s * 0.5 * (1 + 1e-5)).logical_or(inner.logical_not()).all().item<bool>())
              << where;
          const double eps = dtype == at::kHalf ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
          EXPECT_TRUE((err <= s * (0.5 + (1 << bits) * eps)).all().item<bool>()) << where;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llmq
