#include "eval/perplexity.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/loader.h"

namespace llmq {
namespace {

std::unique_ptr<CausalLM> Stories() {
  auto loaded = LoadModelWithoutTokenizer("assets/models/stories260K/stories260K.bin", LoadOptions{});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return std::move(loaded->model);
}

// A plausible token stream: sampled from the model itself, BOS-separated.
std::vector<int32_t> SampleStream(int64_t n) {
  at::manual_seed(7);
  at::Tensor ids = at::randint(3, 512, {n}, at::kLong);
  std::vector<int32_t> out(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + n);
  for (int64_t i = 0; i < n; i += 97) out[i] = 1;
  return out;
}

// NLL of predicting tokens [from, end) of one window, straight from full logits.
double DirectNll(CausalLM& model, const std::vector<int32_t>& s, int64_t begin, int64_t end, int64_t from) {
  at::Tensor ids = at::tensor(std::vector<int64_t>(s.begin() + begin, s.begin() + end), at::kLong).unsqueeze(0);
  at::Tensor logp = at::log_softmax(model.Forward(ids, {}).to(at::kDouble), -1)[0];  // (len, vocab)
  double nll = 0;
  for (int64_t t = from; t < end; ++t) nll -= logp[t - begin - 1][s[t]].item<double>();
  return nll;
}

TEST(PerplexityTest, WindowsDropThePartialWindowAndMatchDirectComputation) {
  auto model = Stories();
  auto stream = SampleStream(1300);
  PerplexityOptions options;
  options.context = 512;
  auto result = ComputePerplexity(*model, stream, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->windows, 2);
  EXPECT_EQ(result->predicted_tokens, 2 * 511);
  const double nll = DirectNll(*model, stream, 0, 512, 1) + DirectNll(*model, stream, 512, 1024, 513);
  EXPECT_NEAR(result->nll_sum, nll, 1e-3);
  EXPECT_NEAR(result->ppl, std::exp(nll / 1022), 1e-6 * result->ppl);
}

TEST(PerplexityTest, RollingPredictsEveryTokenButTheFirstOnce) {
  auto model = Stories();
  auto stream = SampleStream(700);
  PerplexityOptions options;
  options.protocol = "rolling";
  options.context = 256;
  options.stride = 100;
  auto result = ComputePerplexity(*model, stream, options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->predicted_tokens, 699);
  // Windows [0,256) [100,356) [200,456) [300,556) [400,656) [500,700).
  EXPECT_EQ(result->windows, 6);
  double nll = DirectNll(*model, stream, 0, 256, 1);
  int64_t scored = 256;
  for (int64_t begin = 100; scored < 700; begin += 100) {
    const int64_t end = std::min<int64_t>(begin + 256, 700);
    nll += DirectNll(*model, stream, begin, end, scored);
    scored = end;
  }
  EXPECT_NEAR(result->nll_sum, nll, 1e-3);
}

TEST(PerplexityTest, ResultDoesNotDependOnBatchSize) {
  auto model = Stories();
  auto stream = SampleStream(3000);
  PerplexityOptions options;
  options.protocol = "rolling";
  options.context = 300;
  options.stride = 170;
  options.batch_size = 1;
  auto one = ComputePerplexity(*model, stream, options);
  options.batch_size = 5;
  auto five = ComputePerplexity(*model, stream, options);
  ASSERT_TRUE(one.ok() && five.ok());
  EXPECT_EQ(one->predicted_tokens, five->predicted_tokens);
  EXPECT_NEAR(one->ppl, five->ppl, 1e-5 * one->ppl);
}

TEST(PerplexityTest, BadOptionsAreErrors) {
  auto model = Stories();
  auto stream = SampleStream(100);
  PerplexityOptions options;
  options.context = 512;
  EXPECT_FALSE(ComputePerplexity(*model, stream, options).ok());  // fewer tokens than a window
  options.context = 4096;
  auto too_long = ComputePerplexity(*model, SampleStream(5000), options);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("512 positions"), std::string::npos);
  options.context = 64;
  options.protocol = "sliding";
  EXPECT_FALSE(ComputePerplexity(*model, stream, options).ok());
}

}  // namespace
}  // namespace llmq
