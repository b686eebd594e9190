// Scoring target tokens under the model: the log-probability of each target given the
// tokens before it, computed from hidden states in slices of positions so that the
// (batch, seq, vocab) logits never exist at once (Llama-3's vocab is 128K).
#ifndef LLMQ_EVAL_SCORING_H_
#define LLMQ_EVAL_SCORING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/transformer.h"

namespace llmq {

struct TokenScores {
  // Per row: sum of log p(target) over the scored positions (float64 accumulation).
  std::vector<double> logprob_sum;
  // Per row: whether every scored target was the argmax (greedy) prediction.
  std::vector<bool> all_greedy;
};

// tokens: (batch, seq) int64; attention_mask: (batch, seq) or undefined; score_mask:
// (batch, seq) bool, true at positions t whose token tokens[t] is to be scored given
// tokens[<t] (position 0 can never be scored). Rows are independent: the result for a
// row does not depend on the other rows beyond float noise. With a `cache`, the tokens
// continue each row's cached prefix (and are appended to the cache); tokens[<t] then
// means the prefix and the tokens before t.
TokenScores ScoreTokens(CausalLM& model, const at::Tensor& tokens,
                        const at::Tensor& attention_mask, const at::Tensor& score_mask,
                        KvCache* cache = nullptr);

}  // namespace llmq

#endif  // LLMQ_EVAL_SCORING_H_
