#include "quant/awq.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quant/testing_models.h"

namespace llmq {
namespace {

using testing_models::RandomModel;
using testing_models::TinyConfig;

// Inputs (tokens, in) with a few channels 30x larger than the rest, as LLM activations have.
at::Tensor OutlierInputs(int64_t tokens, int64_t in, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor x = at::randn({tokens, in});
  for (int64_t c : {3, 17, 40, 51}) x.select(1, c).mul_(30);
  return x;
}

at::Tensor Gram(const at::Tensor& x) { return x.t().matmul(x) / static_cast<double>(x.size(0)); }

double MseOf(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).pow(2).mean().item<double>();
}

TEST(AwqTest, ScalesBeatRtnWhenAFewInputChannelsAreLarge) {
  at::Tensor x = OutlierInputs(2048, 64, 1);
  at::manual_seed(2);
  at::Tensor w = at::randn({48, 64});
  at::Tensor ref = x.matmul(w.t());  // (tokens, out)
  for (int64_t g : {int64_t{-1}, int64_t{32}, int64_t{20}}) {
    AwqOptions o;
    o.spec = {3, g, false};
    auto search = SearchAwqScales(Gram(x), x.abs().mean(0), {w}, o);
    ASSERT_TRUE(search.ok()) << search.status();
    const at::Tensor& s = search->scales;
    // Output error measured directly on the tokens, not through the Gram matrix.
    const double rtn = MseOf(x.matmul(Dequantize(QuantizeGroups(w, o.spec)).t()), ref);
    const double awq = MseOf((x / s).matmul(Dequantize(QuantizeGroups(w * s, o.spec)).t()), ref);
    EXPECT_LT(awq, 0.8 * rtn) << "group " << g;
    EXPECT_GT(search->alpha, 0);
    EXPECT_NEAR(search->rtn_loss, rtn, 1e-3 * rtn);
    EXPECT_NEAR(search->loss, awq, 1e-3 * awq);
    // AWQ's normalisation: max(s) * min(s) = 1.
    EXPECT_NEAR((s.max() * s.min()).item<double>(), 1.0, 1e-5);
  }
}

// Every candidate includes "no shrink", so clipping never raises the calibration error; on
// heavy-tailed weights it lowers it.
TEST(AwqTest, ClipSearchLowersOutputErrorOnHeavyTailedWeights) {
  at::manual_seed(3);
  at::Tensor x = at::randn({1024, 50});
  at::Tensor w = at::randn({32, 50});
  w.index_put_({at::rand({32, 50}) < 0.03}, 8.0);  // rare large weights
  AwqOptions o;
  o.spec = {3, 16, false};  // 50 = 3 x 16 + 2
  double shrink = -1;
  auto clipped = SearchAwqClip(w, Gram(x), o, &shrink);
  ASSERT_TRUE(clipped.ok()) << clipped.status();
  at::Tensor ref = x.matmul(w.t());
  const double plain = MseOf(x.matmul(Dequantize(QuantizeGroups(w, o.spec)).t()), ref);
  const double clip = MseOf(x.matmul(Dequantize(QuantizeGroups(*clipped, o.spec)).t()), ref);
  EXPECT_LT(clip, plain);
  EXPECT_GT(shrink, 0);
  EXPECT_LE(shrink, 0.45 + 1e-6);  // shrink factors 1, 0.95, ..., 0.55
}

// Folding s into a group and 1/s into the op before it is exact: the fp32 model's logits
// do not move, for every architecture and group kind (norm with and without bias, v -> o).
TEST(AwqTest, FoldingScalesLeavesTheModelsLogitsUnchanged) {
  struct Case {
    Architecture arch;
    bool gqa;
    size_t groups_per_block;
  };
  for (const Case& c : {Case{Architecture::kLlama, false, 4}, Case{Architecture::kLlama, true, 3},
                        Case{Architecture::kQwen2, false, 4}, Case{Architecture::kPhi, false, 2}}) {
    auto model = RandomModel(TinyConfig(c.arch, c.gqa), 5);
    ASSERT_NE(model, nullptr);
    at::manual_seed(6);
    at::Tensor tokens = at::randint(97, {2, 16}, at::kLong);
    at::Tensor before = model->Forward(tokens, at::Tensor());
    at::Tensor q_before = model->block(0).q_proj->mutable_dense_weight()->clone();
    for (int layer = 0; layer < model->num_layers(); ++layer) {
      std::vector<AwqGroup> groups = AwqGroups(*model, layer);
      ASSERT_EQ(groups.size(), c.groups_per_block) << ArchitectureName(c.arch) << " gqa " << c.gqa;
      for (const AwqGroup& group : groups) {
        const int64_t in = (*group.linears[0].slot)->in_features();
        ASSERT_TRUE(ApplyAwqScales(group, at::exp(0.7 * at::randn({in}))).ok());
      }
    }
    at::Tensor after = model->Forward(tokens, at::Tensor());
    EXPECT_FALSE(model->block(0).q_proj->mutable_dense_weight()->allclose(q_before));
    EXPECT_LT((after - before).abs().max().item<float>(), 1e-4 * before.abs().max().item<float>())
        << ArchitectureName(c.arch) << " gqa " << c.gqa;
  }
}

TEST(AwqTest, RejectsScalesOfTheWrongWidth) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, false), 7);
  std::vector<AwqGroup> groups = AwqGroups(*model, 0);
  EXPECT_FALSE(ApplyAwqScales(groups[0], at::ones({5})).ok());
  EXPECT_FALSE(SearchAwqScales(at::eye(4), at::ones({4}), {}, AwqOptions()).ok());
  EXPECT_FALSE(SearchAwqClip(at::ones({3, 4}), at::eye(5), AwqOptions(), nullptr).ok());
}

}  // namespace
}  // namespace llmq
