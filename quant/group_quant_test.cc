#include "quant/group_quant.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace llmq
