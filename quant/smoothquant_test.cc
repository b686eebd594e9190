#include "quant/smoothquant.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/int8_linear.h"
#include "quant/quantize.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

using testing_models::RandomModel;
using testing_models::TinyConfig;

TEST(SmoothQuantTest, ScalesFollowTheFormula) {
  at::Tensor act = at::tensor({4.0f, 0.25f, 100.0f});
  at::Tensor w1 = at::tensor({1.0f, -2.0f, 0.5f, 0.5f, 1.0f, -8.0f}).view({2, 3});
  at::Tensor w2 = at::tensor({-3.0f, 0.5f, 0.25f}).view({1, 3});
  // max|W_j| over both: 3, 2, 8.
  at::Tensor s = SmoothingScales(act, {w1, w2}, 0.5);
  at::Tensor expected = at::tensor({std::sqrt(4.0f / 3), std::sqrt(0.25f / 2), std::sqrt(100.0f / 8)});
  EXPECT_TRUE(at::allclose(s, expected, 1e-6, 0)) << s;
  EXPECT_TRUE(at::allclose(SmoothingScales(act, {w1, w2}, 1.0), act, 1e-6, 0));
  EXPECT_TRUE(at::allclose(SmoothingScales(act, {w1, w2}, 0.0), 1 / at::tensor({3.0f, 2.0f, 8.0f}), 1e-6, 0));
}

// Smoothing moves the scales between the norm and the weights: before any quantization the
// block computes the same function (relative 1e-5), for Llama, GQA and Phi blocks, with
// activation maxima spanning four orders of magnitude.
TEST(SmoothQuantTest, SmoothingLeavesTheFloatBlockOutputUnchanged) {
  for (const auto& [arch, gqa] : std::vector<std::pair<Architecture, bool>>{
           {Architecture::kLlama, false}, {Architecture::kLlama, true}, {Architecture::kPhi, false}}) {
    auto model = RandomModel(TinyConfig(arch, gqa), 11);
    ASSERT_NE(model, nullptr);
    at::manual_seed(12);
    at::Tensor tokens = at::randint(97, {3, 10}, at::kLong);
    ForwardContext ctx = model->MakeContext(at::Tensor(), 3, 10, nullptr);
    at::Tensor hidden = model->Embed(tokens);
    hidden.select(2, 5).mul_(30);  // an outlier channel
    const at::Tensor before = model->RunBlock(0, hidden, ctx);
    std::map<std::string, at::Tensor> maxima;
    for (const NamedLinear& l : model->Linears()) {
      if (l.layer == 0) maxima[l.name] = at::exp(at::rand({(*l.slot)->in_features()}) * 9 - 4.5);
    }
    std::map<std::string, std::map<std::string, double>> stats;
    ASSERT_TRUE(SmoothBlock(*model, 0, maxima, 0.5, &stats).ok());
    EXPECT_FALSE(stats.empty());
    const at::Tensor after = model->RunBlock(0, hidden, ctx);
    const double scale = before.abs().max().item<double>();
    EXPECT_LE((after - before).abs().max().item<double>(), 1e-5 * scale) << static_cast<int>(arch);
    // And it did change the weights.
    EXPECT_GT(stats.begin()->second.at("smooth_max") / stats.begin()->second.at("smooth_min"), 10);
  }
}

// The whole method: every block linear becomes an Int8Linear; the logits stay close to the
// float model's (relative error under 5 %).
TEST(SmoothQuantTest, MethodInstallsInt8LayersAndKeepsLogitsClose) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 13);
  auto reference = RandomModel(TinyConfig(Architecture::kLlama, true), 13);
  CalibrationSet calibration;
  at::manual_seed(14);
  calibration.tokens = at::randint(97, {4, 16}, at::kLong);
  calibration.fingerprint = "test";
  calibration.sampling = "first";
  auto report = QuantizeModelWithCalibration(*model, "smoothquant", {{"keep", "*.layers.1.mlp.down_proj"}}, &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  int int8_layers = 0;
  for (const NamedLinear& l : model->Linears()) {
    const bool is_int8 = dynamic_cast<Int8Linear*>(l.slot->get()) != nullptr;
    int8_layers += is_int8;
    EXPECT_EQ(is_int8, l.layer >= 0 && l.name != "model.layers.1.mlp.down_proj") << l.name;
  }
  EXPECT_EQ(int8_layers, 13);
  EXPECT_EQ(report->provenance.count("fake_quantized"), 0u);
  at::Tensor tokens = at::randint(97, {2, 12}, at::kLong);
  at::Tensor expected = reference->Forward(tokens, at::Tensor());
  at::Tensor got = model->Forward(tokens, at::Tensor());
  const double relative = ((got - expected).norm() / (expected - expected.mean()).norm()).item<double>();
  EXPECT_LT(relative, 0.05);

  auto low = RandomModel(TinyConfig(Architecture::kLlama, true), 13);
  auto low_report = QuantizeModelWithCalibration(*low, "smoothquant", {{"w_bits", "4"}}, &calibration);
  ASSERT_TRUE(low_report.ok()) << low_report.status();
  EXPECT_NE(low_report->provenance.at("fake_quantized").find("w_bits=4"), std::string::npos);
}

}  // namespace
}  // namespace llmq
