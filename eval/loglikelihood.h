// Log-likelihood of continuations given contexts, the primitive behind multiple-choice
// tasks (BoolQ, MS MARCO relevance, generic MC). Tokenization follows lm-eval-harness:
// trailing whitespace of the context moves to the continuation; context + continuation are
// encoded together and the continuation's tokens are those past the context's encoding.
// Requests are batched longest-first; results do not depend on the batch size beyond
// float noise.
//
// Context reuse: requests with the same context (a multiple-choice item's choices) run
// the tokens they have in common once, into a KV cache, and then only each request's
// remainder: the last shared context token and the continuation. The tokens scored and
// the tokens they are conditioned on are exactly those of scoring each request alone
// (same encoding, same truncation; a request whose tokens share no prefix with the
// others' runs alone), so the log-likelihoods agree up to float rounding.
#ifndef LLMQ_EVAL_LOGLIKELIHOOD_H_
#define LLMQ_EVAL_LOGLIKELIHOOD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
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
  // Encode with the tokenizer's special tokens (BOS). Older lm-eval-harness passed false
  // for causal LMs; lm-eval 0.4.13 uses the tokenizer's own default, which is true here.
  // An empty context is replaced by the BOS (else EOS) token either way.
  bool add_special = false;
  // 0 = the model's max_position_embeddings. Longer requests keep their last
  // max_length + 1 tokens (as lm-eval), the last of which is only predicted.
  int64_t max_length = 0;
  // Run a context shared by several requests once (above); false scores each request
  // from scratch.
  bool reuse_context = true;
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
