// The fused attention softmax against the float64 softmax of the same float32 inputs and
// against ATen's ops, on row lengths around its 16-wide steps, masked entries, fully
// masked rows, inputs reaching exp's denormal range, and both dtypes.
#include "model/fused_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/quantized_kernels.h"

namespace llmq {
namespace {

constexpr float kMasked = -1e30f;

// (batch, 1, 1, rows, total) additive mask, keys beyond `keys` unused, some entries masked;
// row 0 of batch 1 entirely masked (a padding row).
at::Tensor MakeMask(int64_t batch, int64_t rows, int64_t total) {
  at::Tensor m = at::zeros({batch, 1, 1, rows, total});
  m.masked_fill_(at::rand({batch, 1, 1, rows, total}) < 0.2, kMasked);
  if (batch > 1) m[1][0][0][0].fill_(kMasked);
  return m;
}

// The formula's float32 steps exactly: v = mask + scale * scores rounded once (the
// kernel's FMA), v - max(v) rounded to float32 (as every softmax computes it: near the
// maximum that rounding is what any float32 softmax's error is made of); the rest in
// float64.
at::Tensor ReferenceSoftmax(const at::Tensor& scores, const at::Tensor& mask, double scale) {
  const at::Tensor v = (mask.to(at::kDouble) + scale * scores.to(at::kDouble)).to(at::kFloat).to(at::kDouble);
  const at::Tensor d = (v - std::get<0>(v.max(-1, true))).to(at::kFloat).to(at::kDouble);
  const at::Tensor e = d.exp();
  return e / e.sum(-1, true);
}

TEST(FusedOpsTest, MaskedSoftmaxIsTheSoftmaxOfFloat32Inputs) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512: transformer.cc uses the ATen ops";
  at::manual_seed(4);
  const double scale = 0.125;
  for (int64_t keys : {1, 7, 16, 17, 100, 1000}) {
    for (at::ScalarType in : {at::kFloat, at::kBFloat16}) {
      const at::Tensor scores = (at::randn({2, 3, 2, 5, keys}) * 40).to(in);
      const at::Tensor mask = MakeMask(2, 5, keys + 9).narrow(4, 0, keys);  // row stride keys + 9
      const at::Tensor want = ReferenceSoftmax(scores, mask, scale);
      const at::Tensor got = MaskedSoftmax(scores, mask, scale, at::kFloat);
      ASSERT_TRUE(got.defined());
      ASSERT_EQ(got.scalar_type(), at::kFloat);
      // exp within ~2 ulp, the sum and the reciprocal a few more: 1e-6 relative (8 ulp),
      // and the denormal results' absolute spacing.
      const at::Tensor err = (got.to(at::kDouble) - want).abs();
      EXPECT_TRUE((err <= want * 1e-6 + 1e-44).all().item<bool>())
          << "keys=" << keys << " " << in << ": max error " << err.max().item<double>();
      // bfloat16 out: the float32 probability rounded once, so within one bfloat16 step of
      // the float64 value's rounding.
      const at::Tensor got16 = MaskedSoftmax(scores, mask, scale, at::kBFloat16);
      ASSERT_EQ(got16.scalar_type(), at::kBFloat16);
      const at::Tensor err16 = (got16.to(at::kDouble) - want).abs();
      EXPECT_TRUE((err16 <= want * (1.0 / 256) + 1e-44).all().item<bool>()) << "keys=" << keys << " " << in;
      // And ATen's ops, as transformer.cc ran them before.
      at::Tensor s32 = scores.to(at::kFloat).clone();
      at::add_out(s32, mask, s32, scale);
      const at::Tensor aten = at::softmax(s32, -1);
      EXPECT_TRUE(at::allclose(got, aten, 2e-6, 1e-30)) << "keys=" << keys << " " << in;
    }
  }
}

// Differences from the row's maximum across exp's whole range, into the denormals and
// below -104 (where exp is 0 in float32).
TEST(FusedOpsTest, ExpAcrossItsRange) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512";
  const int64_t keys = 2001;
  at::Tensor scores = at::linspace(0, -110, keys).view({1, 1, 1, 1, keys});
  const at::Tensor mask = at::zeros({1, 1, 1, 1, keys});
  const at::Tensor got = MaskedSoftmax(scores, mask, 1.0, at::kFloat).to(at::kDouble);
  const at::Tensor want = ReferenceSoftmax(scores, mask, 1.0);
  const at::Tensor err = (got - want).abs();
  EXPECT_TRUE((err <= want * 1e-6 + 1e-44).all().item<bool>()) << "max error " << err.max().item<double>();
  EXPECT_EQ(got[0][0][0][0][keys - 1].item<double>(), 0.0);  // exp(-110) underflows
}

TEST(FusedOpsTest, NanStaysNanAndOtherArgumentsDecline) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512";
  at::Tensor scores = at::zeros({1, 1, 1, 2, 20});
  scores[0][0][0][1][3] = NAN;
  const at::Tensor got = MaskedSoftmax(scores, at::zeros({1, 1, 1, 2, 20}), 1.0, at::kBFloat16);
  EXPECT_TRUE(at::isfinite(got[0][0][0][0].to(at::kFloat)).all().item<bool>());
  EXPECT_TRUE(at::isnan(got[0][0][0][1].to(at::kFloat)).all().item<bool>());
  EXPECT_FALSE(MaskedSoftmax(scores.to(at::kDouble), at::zeros({1, 1, 1, 2, 20}), 1.0, at::kFloat).defined());
  EXPECT_FALSE(MaskedSoftmax(scores, at::zeros({1, 1, 1, 2, 20}), 1.0, at::kHalf).defined());
  EXPECT_FALSE(MaskedSoftmax(scores, at::zeros({1, 1, 1, 3, 20}), 1.0, at::kFloat).defined());
}

}  // namespace
}  // namespace llmq
