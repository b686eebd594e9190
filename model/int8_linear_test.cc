#include "model/int8_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace llmq {
namespace {

// W8A8 by its definition, computed in double: per-channel weight codes, per-token
// activation codes, products summed exactly and scaled.
at::Tensor DefinitionW8A8(const at::Tensor& x, const at::Tensor& w, int w_bits, int a_bits) {
  const double qw = (1 << (w_bits - 1)) - 1, qa = (1 << (a_bits - 1)) - 1;
  at::Tensor xd = x.to(at::kDouble), wd = w.to(at::kDouble);
  at::Tensor sw = wd.abs().amax({1}, true) / qw;  // (out, 1)
  at::Tensor sx = xd.abs().amax({1}, true) / qa;  // (rows, 1)
  at::Tensor cw = at::clamp(at::round(wd / sw), -qw, qw);
  at::Tensor cx = at::clamp(at::round(xd / sx), -qa, qa);
  return at::matmul(cx, cw.t()) * sx * sw.t();
}

TEST(Int8LinearTest, ForwardIsTheW8A8Definition) {
  at::manual_seed(7);
  for (const auto& [wb, ab] : std::vector<std::pair<int, int>>{{8, 8}, {4, 8}, {8, 4}}) {
    at::Tensor w = at::randn({40, 172});
    at::Tensor x = at::randn({2, 9, 172});
    Int8Linear::Options options;
    options.weight_bits = wb;
    options.activation_bits = ab;
    auto layer = Int8Linear::Create(w, at::Tensor(), options, at::kFloat);
    ASSERT_TRUE(layer.ok()) << layer.status();
    at::Tensor y = (*layer)->Forward(x);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 9, 40}));
    at::Tensor expected = DefinitionW8A8(x.reshape({-1, 172}), w, wb, ab).view({2, 9, 40});
    EXPECT_TRUE(at::allclose(y.to(at::kDouble), expected, 1e-5, 1e-5)) << "w" << wb << "a" << ab;
    EXPECT_LE((*layer)->Codes().abs().max().item<int64_t>(), (1 << (wb - 1)) - 1);
  }
}

// The per-row quantizer (one pass per row) gives the floats of ATen's formula,
// clamp(round(x / (absmax / q)), -q, q) with scale 1 for a zero row, bit for bit: ties
// rounding to even, the row maximum at ±q, zero rows, 8 and 4 bits, widths with and
// without a partial vector.
TEST(Int8LinearTest, RowQuantizerIsAtensFormulaBitForBit) {
  at::manual_seed(9);
  for (int bits : {8, 4}) {
    for (int64_t n : {172, 4096}) {
      at::Tensor x = at::randn({6, n}) * 3;
      x[1].zero_();
      // Row 2: values whose quotients are exact halves (ties): absmax 127 * 2, scale 2.
      x[2] = (at::randint(-120, 120, {n}).to(at::kFloat) * 2 + 1);
      x[2][0] = bits == 8 ? 254.0f : 14.0f;
      const double q = (1 << (bits - 1)) - 1;
      at::Tensor absmax = x.abs().amax({1});
      at::Tensor scales = at::where(absmax > 0, absmax / q, at::ones_like(absmax));
      at::Tensor codes = at::clamp(at::round(x / scales.unsqueeze(1)), -q, q).to(at::kChar);
      at::Tensor got_codes, got_scales;
      QuantizeRowsSymmetric(x, bits, &got_codes, &got_scales);
      EXPECT_TRUE(got_scales.equal(scales)) << bits << " bits, n " << n;
      EXPECT_TRUE(got_codes.equal(codes)) << bits << " bits, n " << n << ": "
                                          << got_codes.ne(codes).sum().item<int64_t>() << " differ";
      EXPECT_EQ(got_codes[1].abs().max().item<int>(), 0);
    }
  }
}

// When every column is an outlier, LLM.int8() multiplies everything in 16-bit float: with
// a weight that int8 represents exactly (integers with 127 the largest per row, scale 1)
// and inputs exact in fp16, the layer returns the float product x Wᵀ itself.
TEST(Int8LinearTest, LlmInt8EqualsFloatProductWhenEveryColumnIsAnOutlier) {
  at::manual_seed(8);
  at::Tensor w = at::randint(-127, 128, {24, 32}).to(at::kFloat);
  w.select(1, 0).fill_(127);
  at::Tensor x = (at::randint(-64, 64, {6, 32}).to(at::kFloat) / 8).to(at::kHalf).to(at::kFloat);
  x.select(0, 0).fill_(7.5);  // every column's max |x| above the threshold 6
  Int8Linear::Options options;
  options.outlier_threshold = 6.0;
  auto layer = Int8Linear::Create(w, at::Tensor(), options, at::kFloat);
  ASSERT_TRUE(layer.ok()) << layer.status();
  at::Tensor y = (*layer)->Forward(x);
  EXPECT_TRUE(at::allclose(y, at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()).to(at::kFloat), 0, 1e-4));
  EXPECT_EQ((*layer)->outlier_columns(), 32);
  EXPECT_EQ((*layer)->columns_seen(), 32);
}

// Mixed: the outlier columns go through float, the rest through W8A8 with activation
// scales computed without the outlier columns.
TEST(Int8LinearTest, LlmInt8SplitsOutlierColumns) {
  at::manual_seed(9);
  at::Tensor w = at::randn({16, 64});
  at::Tensor x = at::randn({5, 64});
  x.select(1, 3).mul_(20);
  x.select(1, 40).fill_(-9);
  Int8Linear::Options options;
  options.outlier_threshold = 6.0;
  auto layer = Int8Linear::Create(w, at::Tensor(), options, at::kFloat);
  ASSERT_TRUE(layer.ok()) << layer.status();
  const at::Tensor outliers = at::nonzero(x.abs().amax({0}) > 6).view({-1});
  const at::Tensor regular_x = x.index_fill(1, outliers, 0);
  const at::Tensor wq = (*layer)->DequantizedWeight();
  at::Tensor expected = DefinitionW8A8(regular_x, w, 8, 8) +
                        at::matmul(x.index_select(1, outliers).to(at::kHalf).to(at::kDouble),
                                   wq.index_select(1, outliers).to(at::kHalf).to(at::kDouble).t());
  EXPECT_TRUE(at::allclose((*layer)->Forward(x).to(at::kDouble), expected, 1e-5, 1e-5));
  EXPECT_EQ((*layer)->outlier_columns(), outliers.numel());
  EXPECT_GE(outliers.numel(), 2);
}

// A layer rebuilt from its codes and scales is the same layer: same codes, same outputs
// bit for bit. The parts are checked: a code beyond the weight bits' range (-128 at 8
// bits: the kernel's int32 sums assume |code| <= 127), scales of the wrong length or
// negative, a float codes tensor.
TEST(Int8LinearTest, FromCodesRebuildsTheLayerAndChecksItsParts) {
  at::manual_seed(8);
  at::Tensor w = at::randn({21, 37});
  at::Tensor b = at::randn({21});
  Int8Linear::Options options;
  options.weight_bits = 6;
  options.outlier_threshold = 1.0;
  auto layer = Int8Linear::Create(w, b, options, at::kFloat);
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto again = Int8Linear::FromCodes((*layer)->Codes(), (*layer)->weight_scales(), b, options, at::kFloat);
  ASSERT_TRUE(again.ok()) << again.status();
  at::Tensor x = at::randn({3, 37}) * 2;
  EXPECT_TRUE((*layer)->Forward(x).equal((*again)->Forward(x)));
  EXPECT_EQ((*layer)->WeightBytes(), (*again)->WeightBytes());

  auto error = [&](const at::Tensor& codes, const at::Tensor& scales) {
    auto bad = Int8Linear::FromCodes(codes, scales, b, options, at::kFloat);
    EXPECT_FALSE(bad.ok());
    return bad.ok() ? std::string() : std::string(bad.status().message());
  };
  at::Tensor codes = (*layer)->Codes().clone();
  codes[4][2] = 32;  // 6 bits: |code| <= 31
  EXPECT_NE(error(codes, (*layer)->weight_scales()).find("outside [-31, 31]"), std::string::npos);
  EXPECT_NE(error((*layer)->Codes(), (*layer)->weight_scales().narrow(0, 0, 20)).find("float32 [21]"),
            std::string::npos);
  EXPECT_NE(error((*layer)->Codes(), -(*layer)->weight_scales()).find("non-negative"), std::string::npos);
  EXPECT_NE(error((*layer)->Codes().to(at::kFloat), (*layer)->weight_scales()).find("int8"), std::string::npos);
}

}  // namespace
}  // namespace llmq
