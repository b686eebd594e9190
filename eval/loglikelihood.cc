#include "eval/loglikelihood.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "eval/scoring.h"

namespace llmq {

std::pair<std::vector<int32_t>, std::vector<int32_t>> EncodePair(const Tokenizer& tokenizer,
                                                                 const LoglikelihoodRequest& request,
                                                                 bool add_special) {
  std::string context = request.context;
  std::string continuation = request.continuation;
  // Python's str.rstrip(), as lm-eval: every trailing whitespace character moves, not only
  // spaces (ASCII whitespace and the separators \x1c-\x1f; non-ASCII spaces stay).
  const size_t kept = context.find_last_not_of(" \t\n\v\f\r\x1c\x1d\x1e\x1f");
  const size_t spaces = kept == std::string::npos ? context.size() : context.size() - kept - 1;
  if (spaces > 0) {
    continuation = context.substr(context.size() - spaces) + continuation;
    context.resize(context.size() - spaces);
  }
  if (context.empty()) {
    std::vector<int32_t> prefix;
    std::optional<int32_t> start = tokenizer.bos_id() ? tokenizer.bos_id() : tokenizer.eos_id();
    if (start) prefix.push_back(*start);
    std::vector<int32_t> cont = tokenizer.Encode(continuation, /*add_special=*/false);
    return {prefix, cont};
  }
  std::vector<int32_t> whole = tokenizer.Encode(context + continuation, add_special);
  std::vector<int32_t> ctx = tokenizer.Encode(context, add_special);
  size_t split = std::min(ctx.size(), whole.size());
  std::vector<int32_t> cont(whole.begin() + static_cast<std::ptrdiff_t>(split), whole.end());
  whole.resize(split);
  return {whole, cont};
}

std::vector<LoglikelihoodResult> ComputeLoglikelihoods(
    CausalLM& model, const Tokenizer& tokenizer, const std::vector<LoglikelihoodRequest>& requests,
    const LoglikelihoodOptions& options, const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t max_length =
      options.max_length > 0 ? options.max_length : model.config().max_position_embeddings;
  struct Encoded {
    std::vector<int32_t> input;  // context + continuation, left-truncated to max_length + 1
    int64_t continuation = 0;
    int64_t truncated = 0;
  };
  std::vector<Encoded> encoded(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto [ctx, cont] = EncodePair(tokenizer, requests[i], options.add_special);
    Encoded& e = encoded[i];
    e.input = ctx;
    e.input.insert(e.input.end(), cont.begin(), cont.end());
    e.continuation = static_cast<int64_t>(cont.size());
    // Keep max_length + 1 tokens, as lm-eval: the last one is only a target, so the model
    // still reads max_length positions that matter (the last position's output is unused).
    const int64_t excess = static_cast<int64_t>(e.input.size()) - (max_length + 1);
    if (excess > 0) {
      e.input.erase(e.input.begin(), e.input.begin() + excess);
      e.truncated = excess;
    }
    e.continuation = std::min<int64_t>(e.continuation, static_cast<int64_t>(e.input.size()) - 1);
  }
  // Longest first, so batches hold similar lengths and the first batch shows the peak memory.
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return encoded[a].input.size() > encoded[b].input.size();
  });
  std::vector<LoglikelihoodResult> results(requests.size());
  const size_t batch_size = static_cast<size_t>(std::max(1, options.batch_size));
  for (size_t first = 0; first < order.size(); first += batch_size) {
    const size_t last = std::min(order.size(), first + batch_size);
    const int64_t rows = static_cast<int64_t>(last - first);
    int64_t width = 0;
    for (size_t k = first; k < last; ++k) width = std::max<int64_t>(width, static_cast<int64_t>(encoded[order[k]].input.size()));
    at::Tensor ids = at::zeros({rows, width}, at::kLong);
    at::Tensor mask = at::zeros({rows, width}, at::kLong);
    at::Tensor score = at::zeros({rows, width}, at::kBool);
    for (int64_t r = 0; r < rows; ++r) {
      const Encoded& e = encoded[order[first + r]];
      const int64_t len = static_cast<int64_t>(e.input.size());
      ids[r].narrow(0, 0, len).copy_(at::tensor(std::vector<int64_t>(e.input.begin(), e.input.end()), at::kLong));
      mask[r].narrow(0, 0, len).fill_(1);
      if (e.continuation > 0) score[r].narrow(0, len - e.continuation, e.continuation).fill_(true);
    }
    TokenScores scores = ScoreTokens(model, ids, rows == 1 ? at::Tensor() : mask, score);
    for (int64_t r = 0; r < rows; ++r) {
      const size_t i = order[first + r];
      results[i].logprob = scores.logprob_sum[r];
      results[i].is_greedy = scores.all_greedy[r];
      results[i].num_tokens = encoded[i].continuation;
      results[i].truncated = encoded[i].truncated;
    }
    if (progress) progress(static_cast<int64_t>(last), static_cast<int64_t>(order.size()));
  }
  return results;
}

}  // namespace llmq
