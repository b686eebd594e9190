#include "quant/rtn.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model/quantized_linear.h"

namespace llmq {
namespace {

constexpr char kStories[] = "assets/models/stories260K/stories260K.bin";

std::unique_ptr<CausalLM> LoadStories() {
  auto loaded = LoadModelWithoutTokenizer(kStories, LoadOptions{});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? std::move(loaded->model) : nullptr;
}

TEST(RtnTest, GlobMatchesWholeNames) {
  EXPECT_TRUE(GlobMatch("model.layers.0.*", "model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(GlobMatch("model.layers.0.*", "model.layers.10.self_attn.q_proj"));
  EXPECT_TRUE(GlobMatch("*.down_proj", "model.layers.3.mlp.down_proj"));
  EXPECT_FALSE(GlobMatch("*.down_proj", "model.layers.3.mlp.down_proj_x"));
  EXPECT_TRUE(GlobMatch("lm_head", "lm_head"));
  EXPECT_FALSE(GlobMatch("lm_head", "lm_head2"));
  EXPECT_TRUE(GlobMatch("model.layers.?.mlp.*", "model.layers.4.mlp.up_proj"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*a*b*", "xxaxxbxx"));
  EXPECT_FALSE(GlobMatch("*a*b", "xxaxxbxx"));
  EXPECT_EQ(ParseKeepPatterns(" model.layers.0.* , lm_head,,"),
            (std::vector<std::string>{"model.layers.0.*", "lm_head"}));
}

// Forward of the packed layer == x @ Dequantize(q)^T, with q's scales rounded to fp16 as
// the layer stores them; on stories260K's FFN width (172) for every group-size kind.
TEST(RtnTest, QuantizedForwardMatchesDequantize) {
  at::manual_seed(1);
  const int64_t out = 64, in = 172;
  for (int64_t gs : {-1, 16, 32, 20}) {
    for (bool act_order : {false, true}) {
      for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        at::Tensor w = at::randn({out, in}) * 0.1;
        at::Tensor bias = at::randn({out});
        GroupQuantized q = QuantizeGroups(w, QuantSpec{4, gs, false});
        if (act_order) {  // the same codes, read through a shuffled column -> group map
          const int64_t g = gs < 0 ? in : gs;
          q.g_idx = at::div(at::arange(in, at::kLong), g, "floor")
                        .index_select(0, at::randperm(in, at::kLong)).to(at::kInt);
        }
        q.scales = q.scales.to(at::kHalf).to(at::kFloat);
        const at::Tensor w_ref = Dequantize(q);  // (out, in) float32
        std::unique_ptr<Linear> slot = std::make_unique<DenseLinear>(w.to(dtype), bias.to(dtype));
        NamedLinear named{"test", &slot, 0};
        ASSERT_TRUE(ReplaceWithQuantized(named, q, dtype).ok());
        for (int64_t rows : {1, 37}) {
          at::Tensor x = at::randn({rows, in}).to(dtype);
          at::Tensor ref = at::matmul(x.to(at::kDouble), w_ref.to(at::kDouble).t()) +
                           bias.to(dtype).to(at::kDouble);
          at::Tensor y = slot->Forward(x).to(at::kDouble);
          // float32 layers compute in float32 on every CPU (the bfloat16 units are for
          // bfloat16 inputs only, model/quantized_linear.h).
          const double tol = dtype == at::kFloat ? 1e-5 : 2e-2;
          const double scale = ref.abs().max().item<double>();
          EXPECT_LE((y - ref).abs().max().item<double>(), tol * scale)
              << "gs=" << gs << " act_order=" << act_order << " dtype=" << dtype << " rows=" << rows;
        }
      }
    }
  }
}

// stories260K at 4 bits, g32: the block linears shrink to 1/8 of their float32 bytes
// plus fp16 scales and 4-bit zeros per group, counted here from the layer shapes.
TEST(RtnTest, Stories260KFourBitBytes) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  int64_t fp32_bytes = 0, expected = 0;
  for (NamedLinear& l : model->Linears()) {
    if (l.layer < 0) continue;
    const int64_t out = (*l.slot)->out_features(), in = (*l.slot)->in_features();
    const int64_t groups = (in + 31) / 32;  // 64 -> 2; 172 -> 6 (the last of 12 columns)
    fp32_bytes += out * in * 4;
    expected += out * ((in + 1) / 2) + out * groups * 2 + out * ((groups + 1) / 2);
  }
  EXPECT_EQ(fp32_bytes, 5 * 4 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64));
  RtnOptions options;
  options.spec = QuantSpec{4, 32, false};
  auto summary = QuantizeModelRtn(*model, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->quantized.size(), 35u);
  EXPECT_EQ(summary->kept, (std::vector<std::string>{"lm_head"}));
  EXPECT_EQ(summary->linear_bytes_before, fp32_bytes);
  EXPECT_EQ(summary->linear_bytes_after, expected);
  // 4 bits + (16 + 4) / 32 bits of overhead per weight = 4.625 bits: 0.1445 of float32.
  const double ratio = static_cast<double>(summary->linear_bytes_after) / fp32_bytes;
  EXPECT_NEAR(ratio, (4.0 + 20.0 / 32) / 32, 0.01) << ratio;
  at::Tensor tokens = at::tensor({1, 403, 407, 261, 378}, at::kLong).view({1, 5});
  at::Tensor logits = model->Forward(tokens, at::Tensor());
  EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
}

TEST(RtnTest, EightBitKeepsLogitsClose) {
  auto dense = LoadStories();
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  RtnOptions options;
  options.spec = QuantSpec{8, 32, false};
  options.selection.include_lm_head = true;
  ASSERT_TRUE(QuantizeModelRtn(*model, options).ok());
  at::Tensor tokens = at::tensor({1, 403, 407, 261, 378, 300, 12}, at::kLong).view({1, 7});
  at::Tensor a = dense->Forward(tokens, at::Tensor()), b = model->Forward(tokens, at::Tensor());
  EXPECT_LT((a - b).abs().max().item<double>(), 0.05 * a.abs().max().item<double>());
  EXPECT_EQ(a.argmax(-1).ne(b.argmax(-1)).sum().item<int64_t>(), 0);
}

TEST(RtnTest, KeepListLeavesLayersDense) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  RtnOptions options;
  options.spec = QuantSpec{4, 16, true};
  options.selection.include_lm_head = true;
  options.selection.keep = ParseKeepPatterns("model.layers.0.*,*.down_proj");
  auto summary = QuantizeModelRtn(*model, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  // Block 0 (7 linears) and the down_proj of blocks 1-4 stay dense; lm_head is quantized.
  EXPECT_EQ(summary->kept.size(), 7u + 4u);
  EXPECT_EQ(summary->quantized.size(), 36u - 11u);
  for (NamedLinear& l : model->Linears()) {
    const bool dense = (*l.slot)->mutable_dense_weight() != nullptr;
    const bool should_be_dense = l.layer == 0 || l.name.find("down_proj") != std::string::npos;
    EXPECT_EQ(dense, should_be_dense) << l.name << ": " << (*l.slot)->Describe();
  }
  // A second pass finds nothing dense to replace where it quantized before.
  NamedLinear q = model->Linears()[7];  // block 1's q_proj
  GroupQuantized g = QuantizeGroups(at::zeros({64, 64}), QuantSpec{4, 16, true});
  EXPECT_EQ(ReplaceWithQuantized(q, g, at::kFloat).code(), absl::StatusCode::kFailedPrecondition);
  NamedLinear d = model->Linears()[0];  // block 0's q_proj, dense: a wrong shape is refused
  GroupQuantized wrong = QuantizeGroups(at::zeros({64, 32}), QuantSpec{4, 16, true});
  EXPECT_EQ(ReplaceWithQuantized(d, wrong, at::kFloat).code(), absl::StatusCode::kInvalidArgument);
  // Codes computed with scales the layer cannot store (1/15 is no float16 value) are
  // refused; the same scales rounded to float16 first are taken.
  GroupQuantized unstorable = QuantizeGroups(at::zeros({64, 64}), QuantSpec{4, 16, false});
  unstorable.scales.fill_(1.0f / 15);
  EXPECT_EQ(ReplaceWithQuantized(d, unstorable, at::kFloat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*d.slot)->mutable_dense_weight() != nullptr);
  unstorable.scales = unstorable.scales.to(at::kHalf).to(at::kFloat);
  EXPECT_TRUE(ReplaceWithQuantized(d, unstorable, at::kFloat).ok());
}

}  // namespace
}  // namespace llmq
