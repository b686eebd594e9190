#include "quant/w8_swap.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quant/quantize.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

using testing_models::RandomModel;
using testing_models::TinyConfig;

TEST(W8SwapTest, Fp8ReplacesBlockLinearsExceptKeptOnes) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 3);
  auto report = QuantizeModelWithCalibration(
      *model, "fp8", {{"granularity", "channel"}, {"keep", "model.layers.0.*"}}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  int fp8 = 0;
  for (const NamedLinear& l : model->Linears()) {
    auto* layer = dynamic_cast<Fp8Linear*>(l.slot->get());
    EXPECT_EQ(layer != nullptr, l.layer == 1) << l.name;
    if (layer == nullptr) continue;
    ++fp8;
    EXPECT_TRUE(layer->options().per_channel);
    EXPECT_EQ(layer->WeightBytes(), layer->ParameterCount() + layer->out_features() * 4);
  }
  EXPECT_EQ(fp8, 7);
  EXPECT_EQ(report->layers.size(), 14u);
  EXPECT_NE(report->provenance.at("storage").find("1 byte per weight"), std::string::npos);
}

// Threshold 0 makes every column with a nonzero input an outlier; a huge one none.
TEST(W8SwapTest, LlmInt8CountsOutlierColumns) {
  for (const std::string threshold : {"0", "1000000"}) {
    auto model = RandomModel(TinyConfig(Architecture::kLlama, false), 4);
    auto report = QuantizeModelWithCalibration(*model, "llm_int8", {{"threshold", threshold}}, nullptr);
    ASSERT_TRUE(report.ok()) << report.status();
    at::Tensor tokens = at::randint(97, {2, 8}, at::kLong);
    model->Forward(tokens, at::Tensor());
    int64_t seen = 0;
    const double fraction = OutlierColumnFraction(*model, &seen);
    EXPECT_GT(seen, 0);
    EXPECT_EQ(fraction, threshold == "0" ? 1.0 : 0.0);
  }
}

}  // namespace
}  // namespace llmq
