#include "model/transformer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "model/generate.h"
#include "model/loader.h"

namespace llmq {
namespace {

constexpr char kLlama2c[] = "assets/models/stories260K/stories260K.bin";
constexpr char kHfDir[] = "assets/models/stories260K-hf";

nlohmann::json ReferenceOutputs() {
  auto text = ReadFile(std::string(kHfDir) + "/reference_outputs.json");
  EXPECT_TRUE(text.ok());
  return nlohmann::json::parse(*text);
}

std::unique_ptr<CausalLM> LoadOrDie(const std::string& path, at::ScalarType dtype = at::kFloat) {
  // Tokenizers are tested in tokenizer_test; only the model matters here.
  auto weights = ReadLlama2cCheckpoint(kLlama2c);
  EXPECT_TRUE(weights.ok()) << weights.status();
  if (path == kLlama2c) {
    auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
      return weights->tensors.at(name);
    };
    auto model = CausalLM::Create(weights->config, lookup, dtype, at::kCPU);
    EXPECT_TRUE(model.ok()) << model.status();
    return std::move(model).value();
  }
  auto loaded = LoadModelWithoutTokenizer(path, LoadOptions{dtype, at::kCPU});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return std::move(loaded->model);
}

// Greedy decoding from BOS reproduces llama2.c's published sample (doc/stories260K.md).
TEST(TransformerTest, Llama2cGreedyFromBosMatchesPublishedSample) {
  auto model = LoadOrDie(kLlama2c);
  GenerationOptions options;
  options.max_new_tokens = 9;
  options.stop_at_eos = false;
  auto gens = Generate(*model, nullptr, {{1}}, options);
  ASSERT_EQ(gens.size(), 1u);
  EXPECT_EQ(gens[0].ids, (std::vector<int32_t>{403, 407, 261, 378, 432, 383, 286, 261, 376}));
}

// The HF directory's reference logits were computed by two independent PyTorch
// implementations (reference_outputs.json).
TEST(TransformerTest, HfLogitsMatchReferenceOutputs) {
  auto model = LoadOrDie(kHfDir);
  nlohmann::json ref = ReferenceOutputs();
  std::vector<int64_t> ids = ref["greedy_ids_including_bos"].get<std::vector<int64_t>>();
  at::Tensor tokens = at::tensor(ids, at::kLong).unsqueeze(0);
  at::Tensor logits = model->Forward(tokens, at::Tensor());  // (1, seq, vocab)
  for (auto it = ref["full_logits"].begin(); it != ref["full_logits"].end(); ++it) {
    const int64_t pos = std::stoll(it.key());
    at::Tensor expected = at::tensor(it->get<std::vector<float>>(), at::kFloat);
    const float diff = (logits[0][pos] - expected).abs().max().item<float>();
    EXPECT_LT(diff, 1e-4) << "position " << pos;
  }
  // Teacher-forced mean NLL over the 80 predicted tokens.
  at::Tensor logp = at::log_softmax(logits[0].narrow(0, 0, 80), -1);
  at::Tensor targets = tokens[0].narrow(0, 1, 80);
  const double nll = -logp.gather(1, targets.unsqueeze(1)).mean().item<double>();
  EXPECT_NEAR(nll, ref["teacher_forced_on_greedy_ids"]["mean_nll_nats"].get<double>(), 1e-5);
}

TEST(TransformerTest, Llama2cAndHfLayoutsGiveTheSameLogits) {
  auto a = LoadOrDie(kLlama2c);
  auto b = LoadOrDie(kHfDir);
  at::Tensor tokens = at::tensor(std::vector<int64_t>{1, 403, 407, 261, 378, 432}, at::kLong).unsqueeze(0);
  const float diff = (a->Forward(tokens, {}) - b->Forward(tokens, {})).abs().max().item<float>();
  EXPECT_LT(diff, 1e-4);
}

// Padding must not change the logits of real tokens, left or right.
TEST(TransformerTest, PaddedBatchMatchesUnpaddedRows) {
  auto model = LoadOrDie(kLlama2c);
  std::vector<int64_t> longer = {1, 403, 407, 261, 378, 432, 383};
  std::vector<int64_t> shorter = {1, 403, 385, 410};
  at::Tensor ref_long = model->Forward(at::tensor(longer, at::kLong).unsqueeze(0), {});
  at::Tensor ref_short = model->Forward(at::tensor(shorter, at::kLong).unsqueeze(0), {});
  const int64_t pad = 3;
  // Right padding.
  std::vector<int64_t> right = shorter;
  right.insert(right.end(), pad, 0);
  at::Tensor tokens = at::stack({at::tensor(longer, at::kLong), at::tensor(right, at::kLong)});
  at::Tensor mask = at::ones({2, 7}, at::kLong);
  mask[1].narrow(0, 4, 3).zero_();
  at::Tensor out = model->Forward(tokens, mask);
  EXPECT_LT((out[0] - ref_long[0]).abs().max().item<float>(), 1e-4);
  EXPECT_LT((out[1].narrow(0, 0, 4) - ref_short[0]).abs().max().item<float>(), 1e-4);
  // Left padding.
  std::vector<int64_t> left(pad, 0);
  left.insert(left.end(), shorter.begin(), shorter.end());
  tokens = at::stack({at::tensor(longer, at::kLong), at::tensor(left, at::kLong)});
  mask = at::ones({2, 7}, at::kLong);
  mask[1].narrow(0, 0, 3).zero_();
  out = model->Forward(tokens, mask);
  EXPECT_LT((out[1].narrow(0, 3, 4) - ref_short[0]).abs().max().item<float>(), 1e-4);
}

// Incremental decoding with the cache gives the logits of a full forward.
TEST(TransformerTest, KvCacheMatchesFullForward) {
  auto model = LoadOrDie(kLlama2c);
  std::vector<int64_t> ids = {1, 403, 407, 261, 378, 432, 383, 286};
  at::Tensor full = model->Forward(at::tensor(ids, at::kLong).unsqueeze(0), {});
  KvCache cache = model->NewCache(1, 16);
  at::Tensor prefix = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + 5), at::kLong).unsqueeze(0);
  model->Forward(prefix, {}, &cache);
  for (size_t i = 5; i < ids.size(); ++i) {
    at::Tensor step = model->Forward(at::tensor({ids[i]}, at::kLong).unsqueeze(0), {}, &cache);
    EXPECT_LT((step[0][0] - full[0][static_cast<int64_t>(i)]).abs().max().item<float>(), 1e-4) << i;
  }
}

TEST(TransformerTest, BatchedGenerationEqualsOneByOne) {
  auto model = LoadOrDie(kLlama2c);
  GenerationOptions options;
  options.max_new_tokens = 12;
  options.stop_at_eos = false;
  std::vector<std::vector<int32_t>> prompts = {{1}, {1, 403, 385}, {1, 410, 298, 315}};
  auto batched = Generate(*model, nullptr, prompts, options);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto single = Generate(*model, nullptr, {prompts[i]}, options);
    EXPECT_EQ(batched[i].ids, single[0].ids) << "prompt " << i;
  }
}

TEST(TransformerTest, SeededSamplingIsReproducible) {
  auto model = LoadOrDie(kLlama2c);
  GenerationOptions options;
  options.greedy = false;
  options.temperature = 1.0;
  options.max_new_tokens = 20;
  options.seed = 42;
  auto a = Generate(*model, nullptr, {{1}}, options);
  auto b = Generate(*model, nullptr, {{1}}, options);
  EXPECT_EQ(a[0].ids, b[0].ids);
  options.seed = 43;
  auto c = Generate(*model, nullptr, {{1}}, options);
  EXPECT_NE(a[0].ids, c[0].ids);
}

TEST(TransformerTest, Bfloat16IsCloseToFloat32) {
  auto f32 = LoadOrDie(kLlama2c, at::kFloat);
  auto bf16 = LoadOrDie(kLlama2c, at::kBFloat16);
  at::Tensor tokens = at::tensor(std::vector<int64_t>{1, 403, 407, 261, 378}, at::kLong).unsqueeze(0);
  at::Tensor a = f32->Forward(tokens, {}), b = bf16->Forward(tokens, {});
  EXPECT_EQ(b.scalar_type(), at::kFloat);
  EXPECT_LT((a - b).abs().max().item<float>(), 0.25);
  EXPECT_TRUE(a.argmax(-1).equal(b.argmax(-1)));
}

TEST(TransformerTest, WeightBytesCountTiedEmbeddingOnce) {
  auto model = LoadOrDie(kLlama2c);
  // 264,128 floats in the file minus the two 512x4 RoPE tables = 260,032 parameters.
  EXPECT_EQ(model->ParameterCount(), 260032);
  EXPECT_EQ(model->WeightBytes(), 260032 * 4);
}

}  // namespace
}  // namespace llmq
