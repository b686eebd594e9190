// Log-likelihood of continuations given contexts, the primitive behind multiple-choice
// tasks (BoolQ, MS MARCO relevance, generic MC). Tokenization follows lm-eval-harness:
// trailing spaces of the context move to the continuation; context + continuation are
// encoded together and the continuation's tokens are those past the context's encoding.
// Requests are batched longest-first; results do not depend on the batch size beyond
// float noise.
#ifndef LLMQ_EVAL_LOGLIKELIHOOD_H_
#define LLMQ_EVAL_LOGLIKELIHOOD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct LoglikelihoodRequest {
  std::string context;
  std::string continuation;
};

struct LoglikelihoodResult {
  double logprob = 0;         // sum over continuation tokens, nats
  bool is_greedy = false;     // every continuation token was the argmax
  int64_t num_tokens = 0;     // continuation tokens scored
  int64_t truncated = 0;      // context tokens dropped on the left to fit the model
};

struct LoglikelihoodOptions {
  int batch_size = 8;
  // Encode with the tokenizer's special tokens (BOS). lm-eval-harness's default for
  // causal LMs is false; an empty context is then replaced by the EOS/BOS token.
  bool add_special = false;
  int64_t max_length = 0;  // 0 = the model's max_position_embeddings
};

// progress(requests done, requests total) after every batch.
std::vector<LoglikelihoodResult> ComputeLoglikelihoods(
    CausalLM& model, const Tokenizer& tokenizer, const std::vector<LoglikelihoodRequest>& requests,
    const LoglikelihoodOptions& options,
    const std::function<void(int64_t, int64_t)>& progress = nullptr);

// The (context tokens, continuation tokens) of one request, as scored.
std::pair<std::vector<int32_t>, std::vector<int32_t>> EncodePair(const Tokenizer& tokenizer,
                                                                 const LoglikelihoodRequest& request,
                                                                 bool add_special);

}  // namespace llmq

#endif  // LLMQ_EVAL_LOGLIKELIHOOD_H_
