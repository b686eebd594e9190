// The tiny Hugging Face fixtures (tests/fixtures/hf: Llama with GQA and llama3 RoPE
// scaling, Qwen2 in bf16 with q/k/v biases and tied embeddings, Phi sharded) against the
// logits and greedy generations that transformers recorded (tests/scripts/make_hf_fixtures.py).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "model/config.h"
#include "model/generate.h"
#include "model/loader.h"

namespace llmq {
namespace {

class HfFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Dir() const { return "tests/fixtures/hf/" + GetParam(); }
  nlohmann::json Reference() const {
    auto text = ReadFile(Dir() + "/reference.json");
    EXPECT_TRUE(text.ok()) << text.status();
    return nlohmann::json::parse(*text);
  }
  LoadedModel Load(at::ScalarType dtype) const {
    auto loaded = LoadModel(Dir(), LoadOptions{dtype, at::kCPU});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return std::move(loaded).value();
  }
};

at::Tensor AsTensor(const nlohmann::json& rows) {
  std::vector<at::Tensor> out;
  for (const auto& row : rows) out.push_back(at::tensor(row.get<std::vector<float>>(), at::kFloat));
  return at::stack(out);
}

at::Tensor Ids(const nlohmann::json& ids) {
  return at::tensor(ids.get<std::vector<int64_t>>(), at::kLong).unsqueeze(0);
}

TEST_P(HfFixtureTest, Fp32LogitsMatchTransformers) {
  LoadedModel m = Load(at::kFloat);
  for (const auto& prompt : Reference()["prompts"]) {
    // The tokenizer reproduces transformers' ids (add_special_tokens=True)...
    std::vector<int32_t> ids = m.tokenizer->Encode(prompt["text"].get<std::string>(), true);
    EXPECT_EQ(ids, prompt["ids"].get<std::vector<int32_t>>()) << prompt["text"];
    // ...and the model its logits at every position.
    at::Tensor logits = m.model->Forward(Ids(prompt["ids"]), {})[0];
    const float diff = (logits - AsTensor(prompt["logits"])).abs().max().item<float>();
    EXPECT_LE(diff, 1e-4) << prompt["text"];
  }
}

TEST_P(HfFixtureTest, GreedyGenerationMatchesTransformers) {
  LoadedModel m = Load(at::kFloat);
  for (const auto& prompt : Reference()["prompts"]) {
    GenerationOptions options;
    options.max_new_tokens = static_cast<int>(prompt["greedy"]["new_ids"].size());
    options.stop_at_eos = false;
    auto gen = Generate(*m.model, m.tokenizer.get(), {prompt["ids"].get<std::vector<int32_t>>()}, options);
    EXPECT_EQ(gen[0].ids, prompt["greedy"]["new_ids"].get<std::vector<int32_t>>()) << prompt["text"];
    EXPECT_EQ(gen[0].text, prompt["greedy"]["text"].get<std::string>()) << prompt["text"];
  }
}

TEST_P(HfFixtureTest, PaddedBatchesMatchTransformers) {
  LoadedModel m = Load(at::kFloat);
  const nlohmann::json ref = Reference()["padded_batch"];
  for (const char* side : {"left", "right"}) {
    const nlohmann::json& b = ref[side];
    at::Tensor ids = at::stack({Ids(b["input_ids"][0])[0], Ids(b["input_ids"][1])[0]});
    at::Tensor mask = at::stack({Ids(b["attention_mask"][0])[0], Ids(b["attention_mask"][1])[0]});
    at::Tensor logits = m.model->Forward(ids, mask);
    for (int64_t row = 0; row < 2; ++row) {
      at::Tensor real = logits[row].index({mask[row].to(at::kBool)});
      const float diff = (real - AsTensor(b["logits_real_positions"][row])).abs().max().item<float>();
      EXPECT_LE(diff, 1e-4) << side << " row " << row;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfFixtureTest,
                         ::testing::Values("llama-gqa", "qwen2-bf16", "phi-sharded"));

TEST(HfFixtureBf16Test, Qwen2Bf16ComputeIsCloseToTransformersBf16) {
  auto loaded = LoadModel("tests/fixtures/hf/qwen2-bf16", LoadOptions{at::kBFloat16, at::kCPU});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto text = ReadFile("tests/fixtures/hf/qwen2-bf16/reference.json");
  nlohmann::json ref = nlohmann::json::parse(*text);
  for (const auto& prompt : ref["prompts"]) {
    at::Tensor logits = loaded->model->Forward(Ids(prompt["ids"]), {})[0];
    at::Tensor expected = AsTensor(prompt["logits_bf16"]);
    // bf16 keeps 8 bits of mantissa, and two bf16 implementations round in different
    // places: the bound is the recorded gap between transformers' bf16 and fp32 runs.
    const float diff = (logits - expected).abs().max().item<float>();
    EXPECT_LT(diff, prompt["bf16_vs_fp32_max_abs_diff"].get<float>()) << prompt["text"];
    const double same_argmax = logits.argmax(-1).eq(expected.argmax(-1)).to(at::kDouble).mean().item<double>();
    EXPECT_GE(same_argmax, 0.9) << prompt["text"];
  }
}

// transformers >= 5 writes RoPE settings into one rope_parameters object.
TEST(HfConfigTest, Transformers5RopeParametersAreRead) {
  auto text = ReadFile("tests/fixtures/hf/llama-gqa/reference.json");
  nlohmann::json config = nlohmann::json::parse(*text)["config_as_transformers5_writes_it"];
  auto parsed = ParseHfConfig(config.dump(), "config.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_DOUBLE_EQ(parsed->rope_theta, 500000.0);
  ASSERT_TRUE(parsed->llama3_rope_scaling.has_value());
  EXPECT_EQ(parsed->llama3_rope_scaling->original_max_position_embeddings, 64);
  auto old = LoadHfConfig("tests/fixtures/hf/llama-gqa/config.json");
  ASSERT_TRUE(old.ok());
  EXPECT_DOUBLE_EQ(old->rope_theta, parsed->rope_theta);
}

}  // namespace
}  // namespace llmq
