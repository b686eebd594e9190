#include "eval/loglikelihood.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "eval/choice_scoring.h"
#include "eval/task_test_util.h"
#include "eval/test_tokenizers.h"
#include "model/loader.h"

namespace llmq {
namespace {

std::vector<std::string> Pieces(const WordTokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tokenizer.Piece(id));
  return out;
}

using Strings = std::vector<std::string>;

TEST(LoglikelihoodSplitTest, TrailingContextSpaceMovesToTheContinuation) {
  WordTokenizer tokenizer;
  // Encoded naively, "Answer: " would end in a lone " " token and " yes" would never be
  // scored as the model sees it in running text.
  auto [context, continuation] = EncodePair(tokenizer, {"Question: x?\nAnswer: ", "yes"}, false);
  EXPECT_EQ(Pieces(tokenizer, context), (Strings{"Question:", " x?\nAnswer:"}));
  EXPECT_EQ(Pieces(tokenizer, continuation), (Strings{" yes"}));
}

TEST(LoglikelihoodSplitTest, TrailingNewlinesAndTabsMoveLikePythonsRstrip) {
  ByteTokenizer tokenizer;
  auto [context, continuation] = EncodePair(tokenizer, {"Q: x\nA:\n\t ", "y"}, false);
  EXPECT_EQ(tokenizer.Decode(context), "Q: x\nA:");
  EXPECT_EQ(tokenizer.Decode(continuation), "\n\t y");
}

TEST(LoglikelihoodSplitTest, SeveralTrailingSpacesAllMove) {
  WordTokenizer tokenizer;
  auto [context, continuation] = EncodePair(tokenizer, {"A:   ", "b c"}, false);
  EXPECT_EQ(Pieces(tokenizer, context), (Strings{"A:"}));
  EXPECT_EQ(Pieces(tokenizer, continuation), (Strings{"   b", " c"}));
}

TEST(LoglikelihoodSplitTest, ContextWithoutTrailingSpaceSplitsAtItsOwnTokens) {
  WordTokenizer tokenizer;
  auto [context, continuation] = EncodePair(tokenizer, {"Answer:", " no"}, false);
  EXPECT_EQ(Pieces(tokenizer, context), (Strings{"Answer:"}));
  EXPECT_EQ(Pieces(tokenizer, continuation), (Strings{" no"}));
  // BOS only with add_special, and only before the context.
  auto [with_bos, cont2] = EncodePair(tokenizer, {"Answer:", " no"}, true);
  ASSERT_EQ(with_bos.size(), 2u);
  EXPECT_EQ(with_bos[0], 1);
  EXPECT_EQ(cont2, continuation);
}

TEST(LoglikelihoodSplitTest, AllSpaceContextBecomesTheStartToken) {
  WordTokenizer tokenizer;
  auto [context, continuation] = EncodePair(tokenizer, {"  ", "Hi"}, false);
  EXPECT_EQ(context, (std::vector<int32_t>{1}));  // BOS stands in for the empty context
  EXPECT_EQ(Pieces(tokenizer, continuation), (Strings{"  Hi"}));
}

TEST(LoglikelihoodSplitTest, ContinuationGluedToTheContextLosesTheMergedToken) {
  // As lm-eval: the continuation is the whole encoding past the context's token count, so a
  // token spanning the boundary ("foobar") counts as context.
  WordTokenizer tokenizer;
  auto [context, continuation] = EncodePair(tokenizer, {"x foo", "bar baz"}, false);
  EXPECT_EQ(Pieces(tokenizer, context), (Strings{"x", " foobar"}));
  EXPECT_EQ(Pieces(tokenizer, continuation), (Strings{" baz"}));
}

class LoglikelihoodModelTest : public Stories260kTaskTest {};

TEST_F(LoglikelihoodModelTest, MatchesTheSumOfLogSoftmaxOverContinuationTokens) {
  const LoglikelihoodRequest request{"Once upon a time, there was a", " little girl"};
  auto [ctx, cont] = EncodePair(tokenizer_, request, false);
  std::vector<int64_t> ids(ctx.begin(), ctx.end());
  ids.insert(ids.end(), cont.begin(), cont.end());
  at::Tensor logits = model_->Forward(at::tensor(ids, at::kLong).unsqueeze(0), {});  // (1, seq, vocab)
  at::Tensor logp = at::log_softmax(logits.to(at::kDouble), -1)[0];
  double expected = 0;
  for (size_t t = ctx.size(); t < ids.size(); ++t) expected += logp[t - 1][ids[t]].item<double>();
  auto results = ComputeLoglikelihoods(*model_, tokenizer_, {request}, LoglikelihoodOptions{});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].num_tokens, 12);
  EXPECT_NEAR(results[0].logprob, expected, 1e-4);
}

TEST_F(LoglikelihoodModelTest, LongRequestsKeepTheirLastMaxLengthPlusOneTokens) {
  // 20 context bytes + 5 continuation bytes with max_length 16: lm-eval keeps the last 17
  // tokens (16 inputs, the last token only a target), so 8 context tokens are dropped.
  const LoglikelihoodRequest request{"Once upon a time, th", "ere w"};
  LoglikelihoodOptions options;
  options.max_length = 16;
  auto results = ComputeLoglikelihoods(*model_, tokenizer_, {request}, options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].truncated, 8);
  EXPECT_EQ(results[0].num_tokens, 5);
  std::vector<int32_t> all = tokenizer_.Encode("Once upon a time, there w", false);
  std::vector<int64_t> kept(all.end() - 17, all.end());
  at::Tensor input = at::tensor(std::vector<int64_t>(kept.begin(), kept.end() - 1), at::kLong).unsqueeze(0);
  at::Tensor logp = at::log_softmax(model_->Forward(input, {}).to(at::kDouble), -1)[0];  // (16, vocab)
  double expected = 0;
  for (int64_t t = 12; t < 17; ++t) expected += logp[t - 1][kept[t]].item<double>();
  EXPECT_NEAR(results[0].logprob, expected, 1e-4);
}

TEST_F(LoglikelihoodModelTest, BatchSizeOneAndSevenGiveTheSameLoglikelihoodsAndChoices) {
  std::vector<ChoiceItem> items;
  const char* contexts[] = {"Tom had a red ball. He", "The sun", "Lily went to the park with her mom and",
                            "", "Once upon a time, in a small house, there lived a cat who liked to",
                            "One day, Ben saw a big dog. The dog"};
  for (const char* c : contexts) items.push_back({c, {"ran away.", "was happy.", "said no", "sky"}, 1});
  items.push_back({std::string(600, 'a'), {"b", "cc"}, 0});  // longer than the model's 512 positions
  LoglikelihoodOptions one, seven;
  one.batch_size = 1;
  seven.batch_size = 7;
  auto a = ScoreChoices(*model_, tokenizer_, items, " ", one);
  auto b = ScoreChoices(*model_, tokenizer_, items, " ", seven);
  ASSERT_EQ(a.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(a[i].predicted, b[i].predicted) << i;
    EXPECT_EQ(a[i].predicted_norm, b[i].predicted_norm) << i;
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      EXPECT_NEAR(a[i].logprobs[c], b[i].logprobs[c], 1e-4) << i << "/" << c;
      EXPECT_EQ(a[i].is_greedy[c], b[i].is_greedy[c]) << i << "/" << c;
    }
  }
  EXPECT_GT(a.back().truncated, 0);
}

// Context reuse runs each item's shared tokens once; every choice must get the
// log-likelihood, greediness and token counts of scoring it alone: an empty context (BOS
// only: nothing to share), a context truncated differently per choice, choices of
// different lengths, BOS, several batch sizes. In float64 the two agree within 1e-5 nats
// even on these long continuations (the conditioning is the same); in float32 they agree
// as closely as two batch sizes do (float32 rounding alone moves sums of -300 by ~1e-5).
TEST_F(LoglikelihoodModelTest, ContextReuseGivesTheLoglikelihoodsOfScoringEachChoiceAlone) {
  std::vector<ChoiceItem> items;
  const char* contexts[] = {"Tom had a red ball. He", "The sun", "Lily went to the park with her mom and",
                            "", "Once upon a time, in a small house, there lived a cat who liked to",
                            "One day, Ben saw a big dog. The dog"};
  for (const char* c : contexts) items.push_back({c, {"ran away.", "was happy.", "said no", "sky"}, 1});
  items.push_back({"Is the sky blue?\nAnswer:", {"no", "yes"}, 1});
  items.push_back({std::string(600, 'a'), {"b", "cc"}, 0});  // truncated by 89 and 90 tokens (+1 with BOS)
  LoadOptions float64;
  float64.dtype = at::kDouble;
  auto loaded = LoadModelWithoutTokenizer("assets/models/stories260K/stories260K.bin", float64);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (CausalLM* model : {loaded->model.get(), model_.get()}) {
    const double tolerance = model->dtype() == at::kDouble ? 1e-5 : 1e-4;
    for (bool bos : {false, true}) {
      for (int batch : {1, 3}) {
        LoglikelihoodOptions alone, reused;
        alone.reuse_context = false;
        alone.add_special = reused.add_special = bos;
        alone.batch_size = reused.batch_size = batch;
        auto a = ScoreChoices(*model, tokenizer_, items, " ", alone);
        auto b = ScoreChoices(*model, tokenizer_, items, " ", reused);
        ASSERT_EQ(b.size(), items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          EXPECT_EQ(a[i].truncated, b[i].truncated) << i;
          for (size_t c = 0; c < items[i].choices.size(); ++c) {
            EXPECT_NEAR(a[i].logprobs[c], b[i].logprobs[c], tolerance)
                << i << "/" << c << " bos " << bos << " " << c10::toString(model->dtype());
            EXPECT_EQ(a[i].is_greedy[c], b[i].is_greedy[c]) << i << "/" << c;
          }
        }
        EXPECT_EQ(b.back().truncated, bos ? 91 + 90 : 89 + 90);
      }
    }
  }
}

// At the context/continuation boundary the split is lm-eval's (a token spanning it counts
// as context), per choice, so choices may share fewer tokens than the context has: reuse
// shares only the common tokens and scores the same tokens as scoring alone.
TEST_F(LoglikelihoodModelTest, ContextReuseKeepsEachChoicesOwnBoundaryTokens) {
  WordTokenizer words;
  const std::vector<LoglikelihoodRequest> requests = {
      {"a b c x foo", "bar baz"}, {"a b c x foo", " qux"}, {"a b c x foo", " bar"}};
  auto [ctx, cont] = EncodePair(words, requests[0], false);
  ASSERT_EQ(Pieces(words, ctx), (Strings{"a", " b", " c", " x", " foobar"}));
  LoglikelihoodOptions alone, reused;
  alone.reuse_context = false;
  auto a = ComputeLoglikelihoods(*model_, words, requests, alone);
  auto b = ComputeLoglikelihoods(*model_, words, requests, reused);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].num_tokens, b[i].num_tokens) << i;
    EXPECT_NEAR(a[i].logprob, b[i].logprob, 1e-5) << i;
    EXPECT_EQ(a[i].is_greedy, b[i].is_greedy) << i;
  }
  EXPECT_EQ(b[0].num_tokens, 1);  // " baz"
}

}  // namespace
}  // namespace llmq
