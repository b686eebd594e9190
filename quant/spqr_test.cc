#include "quant/spqr.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "model/spqr_linear.h"
#include "quant/gptq.h"
#include "quant/quantize.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Calibration inputs (n, in) and their Hessian 2/n XᵀX.
at::Tensor Inputs(int64_t n, int64_t in, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({n, in}) * (1 + at::rand({in}) * 3);  // columns of unequal scale
}
at::Tensor HessianOf(const at::Tensor& x) { return 2.0 / x.size(0) * at::matmul(x.t(), x); }

// Weights that float16 represents exactly, so that an outlier (kept in float16) is the
// weight itself; about 1 % of them ten times larger than the rest, as in trained models.
at::Tensor HalfExactWeight(int64_t out, int64_t in, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor w = at::randn({out, in}) * 0.05;
  w = at::where(at::rand({out, in}) < 0.01, w * 10, w);
  return w.to(at::kHalf).to(at::kFloat);
}

std::unique_ptr<SpqrLinear> LayerOf(const SpqrResult& r) {
  auto layer = SpqrLinear::Create(r.parts, at::kFloat);
  EXPECT_TRUE(layer.ok()) << layer.status();
  return layer.ok() ? std::move(layer).value() : nullptr;
}

float Half(double v) { return static_cast<float>(static_cast<at::Half>(static_cast<float>(v))); }

// The two-level group quantizer written out from its definition (quant/spqr.h), one value at a
// time: what SpQR must give with no outliers and no error feedback (H = I).
at::Tensor GroupQuantizerByDefinition(const at::Tensor& weight, int bits, int scale_bits, int64_t beta) {
  const int64_t out = weight.size(0), in = weight.size(1);
  const float maxq = static_cast<float>((1 << bits) - 1), maxc = static_cast<float>((1 << scale_bits) - 1);
  auto w = weight.accessor<float, 2>();
  at::Tensor result = at::zeros({out, in});
  auto res = result.accessor<float, 2>();
  for (int64_t c0 = 0; c0 < in; c0 += beta) {
    const int64_t c1 = std::min(in, c0 + beta);
    std::vector<float> scale(out), zero(out);
    for (int64_t r = 0; r < out; ++r) {
      float lo = 0, hi = 0;
      for (int64_t c = c0; c < c1; ++c) lo = std::min(lo, w[r][c]), hi = std::max(hi, w[r][c]);
      if (lo == 0 && hi == 0) lo = -1, hi = 1;
      scale[r] = (hi - lo) / maxq;
      zero[r] = -lo / scale[r];
    }
    // Second level: per block of beta rows, min and step in float16, codes of scale_bits.
    auto second_level = [&](std::vector<float>& v, float floor) {
      for (int64_t r0 = 0; r0 < out; r0 += beta) {
        const int64_t r1 = std::min(out, r0 + beta);
        float vlo = v[r0], vhi = v[r0];
        for (int64_t r = r0; r < r1; ++r) vlo = std::min(vlo, v[r]), vhi = std::max(vhi, v[r]);
        const float lo16 = Half(vlo), step16 = Half((vhi - vlo) / maxc);
        for (int64_t r = r0; r < r1; ++r) {
          const float code = step16 > 0 ? std::min(std::max(std::nearbyint((v[r] - lo16) / step16), 0.0f), maxc) : 0;
          v[r] = std::max(lo16 + code * step16, floor);
        }
      }
    };
    second_level(scale, kMinSpqrScale);
    second_level(zero, std::numeric_limits<float>::lowest());
    for (int64_t r = 0; r < out; ++r) {
      for (int64_t c = c0; c < c1; ++c) {
        const float q = std::min(std::max(std::nearbyint(w[r][c] / scale[r] + zero[r]), 0.0f), maxq);
        res[r][c] = scale[r] * (q - zero[r]);
      }
    }
  }
  return result;
}

TEST(SpqrTest, ThresholdZeroKeepsEveryWeightExactly) {
  const int64_t out = 24, in = 40;  // 40 = two groups of 16 and a shorter one of 8
  at::Tensor w = HalfExactWeight(out, in, 3);
  at::Tensor x = Inputs(200, in, 4);
  SpqrOptions o;
  o.outlier_threshold = 0;
  auto r = SpqrQuantize(w, HessianOf(x), o, "t");
  ASSERT_TRUE(r.ok()) << r.status();
  auto layer = LayerOf(*r);
  ASSERT_NE(layer, nullptr);
  EXPECT_TRUE(at::equal(layer->DequantizedWeight(), w));
  // The product is the float product with the original weight.
  EXPECT_TRUE(at::equal(layer->Forward(x), at::linear(x, w)));
  // Every weight its 3-bit code did not hit exactly is an outlier: nearly all of them.
  EXPECT_GT(r->outliers, out * in * 9 / 10);
  EXPECT_EQ(layer->outlier_count(), r->outliers);
}

TEST(SpqrTest, ThresholdInfinityWithIdentityHessianIsTheGroupQuantizer) {
  for (int64_t beta : {16, 5}) {
    const int64_t out = 37, in = 44;  // neither dimension a multiple of the groups
    at::manual_seed(5);
    at::Tensor w = at::randn({out, in}) * 0.1;
    w.select(0, 3).narrow(0, 0, 16).zero_();  // an all-zero group
    SpqrOptions o;
    o.outlier_threshold = kInfinity;
    o.group_size = beta;
    auto r = SpqrQuantize(w, at::eye(in), o, "t");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->outliers, 0);
    auto layer = LayerOf(*r);
    ASSERT_NE(layer, nullptr);
    at::Tensor expected = GroupQuantizerByDefinition(w, 3, 3, beta);
    EXPECT_LT((layer->DequantizedWeight() - expected).abs().max().item<double>(), 1e-6) << beta;
  }
}

// With real inputs, error feedback and a few outliers do better on the layer's output than
// the plain group quantizer, and outliers do better than none.
TEST(SpqrTest, FeedbackAndOutliersReduceTheOutputError) {
  const int64_t out = 32, in = 64;
  at::Tensor w = HalfExactWeight(out, in, 8);
  at::Tensor x = Inputs(400, in, 9);
  at::Tensor h = HessianOf(x);
  auto output_error = [&](double tau, bool feedback) {
    SpqrOptions o;
    o.outlier_threshold = tau;
    auto r = SpqrQuantize(w, feedback ? h : at::eye(in), o, "t");
    EXPECT_TRUE(r.ok()) << r.status();
    auto layer = LayerOf(*r);
    return (layer->Forward(x) - at::linear(x, w)).square().mean().item<double>();
  };
  const double plain = output_error(kInfinity, false);
  const double gptq = output_error(kInfinity, true);
  const double spqr = output_error(0.2, true);
  EXPECT_LT(gptq, plain);
  EXPECT_LT(spqr, gptq);
}

// Bytes from the format's definition (model/spqr_linear.h): 32 x 48, β = 16, 3-bit codes and
// statistics, with a bias: codes 32·48·3/8 = 576; statistic codes 2 · ⌈32·3·3/8⌉ = 72;
// second level 2 row groups × 3 groups × 4 float16 = 48; row_ptr 33 · 4 = 132; bias 32 · 4 =
// 128; and 2 + 2 bytes per outlier (int16 column, float16 value).
TEST(SpqrTest, WeightBytesFollowTheFormat) {
  const int64_t out = 32, in = 48;
  at::Tensor w = HalfExactWeight(out, in, 10);
  SpqrOptions o;
  o.outlier_threshold = 0.5;
  auto r = SpqrQuantize(w, HessianOf(Inputs(300, in, 11)), o, "t");
  ASSERT_TRUE(r.ok()) << r.status();
  r->parts.bias = at::randn({out});
  auto layer = LayerOf(*r);
  ASSERT_NE(layer, nullptr);
  EXPECT_GT(layer->outlier_count(), 0);
  EXPECT_LT(layer->outlier_count(), out * in / 10);
  EXPECT_EQ(layer->WeightBytes(), 576 + 72 + 48 + 132 + 128 + 4 * layer->outlier_count());

  // A 256 x 256 layer without outliers: b + 2c/β + 64/β² + 32 (out + 1) / (out · in) bits per
  // weight = 3 + 0.375 + 0.25 + 0.1255 for b = c = 3, β = 16.
  at::Tensor big = HalfExactWeight(256, 256, 12);
  o.outlier_threshold = kInfinity;
  auto rb = SpqrQuantize(big, at::eye(256), o, "t");
  ASSERT_TRUE(rb.ok()) << rb.status();
  auto big_layer = LayerOf(*rb);
  const double bits = 8.0 * big_layer->WeightBytes() / (256.0 * 256.0);
  EXPECT_DOUBLE_EQ(bits, 3 + 6.0 / 16 + 64.0 / 256 + 32.0 * 257 / 65536);
}

TEST(SpqrTest, RejectsBadOptions) {
  SpqrOptions o;
  o.scale_bits = 1;
  EXPECT_FALSE(SpqrQuantize(at::zeros({4, 4}), at::eye(4), o).ok());
  o = SpqrOptions();
  o.outlier_threshold = -1;
  EXPECT_FALSE(SpqrQuantize(at::zeros({4, 4}), at::eye(4), o).ok());
  EXPECT_FALSE(SpqrQuantize(at::zeros({4, 4}), at::eye(5), SpqrOptions()).ok());
}

// Through the method entry point: every block linear becomes a SpqrLinear, lm_head and
// kept layers stay dense, and the report carries the outlier fraction.
TEST(SpqrTest, QuantizesAModelThroughTheMethodEntryPoint) {
  auto model = testing_models::RandomModel(
      testing_models::TinyConfig(Architecture::kLlama, true), 2);
  CalibrationSet calibration = testing_models::RandomCalibration(6, 24);
  auto report = QuantizeModelWithCalibration(*model, "spqr", {{"keep", "*.down_proj"}}, &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  int spqr = 0, dense = 0;
  for (const NamedLinear& l : model->Linears()) {
    const bool is_spqr = dynamic_cast<SpqrLinear*>(l.slot->get()) != nullptr;
    (is_spqr ? spqr : dense)++;
    EXPECT_EQ(is_spqr, l.layer >= 0 && l.name.find("down_proj") == std::string::npos) << l.name;
  }
  EXPECT_EQ(spqr, 12);
  const double fraction = std::stod(report->provenance.at("outlier_fraction"));
  EXPECT_GT(fraction, 0);
  EXPECT_LT(fraction, 0.1);
  EXPECT_EQ(report->params.at("outlier_threshold"), "0.2");
}

}  // namespace
}  // namespace llmq
