// Perplexity of a model over a token stream, in two documented protocols:
//   windows — GPTQ style: non-overlapping windows of `context` tokens, the last partial
//             window dropped; in each window tokens 2..context are predicted from the
//             ones before them (context - 1 predictions per window).
//   rolling — sliding windows of `context` tokens advancing by `stride`: every token
//             after the first is predicted exactly once, with up to context - 1 tokens
//             of history (the strided evaluation of Hugging Face's perplexity guide;
//             lm-eval's rolling log-likelihood is the case stride = context).
// ppl = exp(total NLL / predicted tokens), NLL accumulated in float64.
#ifndef LLMQ_EVAL_PERPLEXITY_H_
#define LLMQ_EVAL_PERPLEXITY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct PerplexityOptions {
  std::string protocol = "windows";  // windows | rolling
  int64_t context = 2048;
  int64_t stride = 0;       // rolling only (the ppl task's default: context / 2)
  int64_t max_windows = 0;  // 0 = all
  int batch_size = 1;       // windows per forward; results do not depend on it
};

struct PerplexityResult {
  std::string protocol;
  int64_t context = 0;
  int64_t stride = 0;
  int64_t tokens = 0;            // tokens in the stream
  int64_t windows = 0;           // windows evaluated
  int64_t predicted_tokens = 0;  // tokens whose NLL entered the sum
  double nll_sum = 0;            // nats
  double ppl = 0;
  std::vector<double> window_nll;        // per window: NLL summed over its scored tokens
  std::vector<int64_t> window_tokens;    // per window: its scored tokens
};

// progress(windows done, windows total) after every batch.
absl::StatusOr<PerplexityResult> ComputePerplexity(
    CausalLM& model, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
    const std::function<void(int64_t, int64_t)>& progress = nullptr);

// Encodes each document (with the tokenizer's special tokens, e.g. BOS, when
// `add_special`) and concatenates the results into one stream.
std::vector<int32_t> EncodeDocuments(const Tokenizer& tokenizer,
                                     const std::vector<std::string>& documents,
                                     bool add_special);

}  // namespace llmq

#endif  // LLMQ_EVAL_PERPLEXITY_H_
