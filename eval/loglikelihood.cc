#include "eval/loglikelihood.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
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

namespace {

struct Encoded {
  std::vector<int32_t> input;  // context + continuation, left-truncated to max_length + 1
  int64_t continuation = 0;
  int64_t truncated = 0;
};

void Record(const TokenScores& scores, int64_t row, const Encoded& e, LoglikelihoodResult* out) {
  out->logprob = scores.logprob_sum[row];
  out->is_greedy = scores.all_greedy[row];
  out->num_tokens = e.continuation;
  out->truncated = e.truncated;
}

// Scores `indices` alone, `batch_size` requests per forward, longest first.
void ScoreAlone(CausalLM& model, const std::vector<Encoded>& encoded, std::vector<size_t> order,
                size_t batch_size, std::vector<LoglikelihoodResult>& results,
                const std::function<void(size_t)>& done) {
  // Longest first, so batches hold similar lengths and the first batch shows the peak memory.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return encoded[a].input.size() > encoded[b].input.size();
  });
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
    for (int64_t r = 0; r < rows; ++r) Record(scores, r, encoded[order[first + r]], &results[order[first + r]]);
    done(last - first);
  }
}

// Requests with one context: the first `prefix` tokens of every member's input are equal
// and precede every scored token's predecessor (prefix <= context tokens - 1).
struct SharedContext {
  std::vector<size_t> members;
  int64_t prefix = 0;
};

// Groups requests by context string; a group keeps the tokens all its members share,
// minus one, so that each member's first scored token is predicted inside its own pass.
// Requests in no group of two or more with a non-empty shared prefix are returned alone.
std::vector<SharedContext> GroupByContext(const std::vector<LoglikelihoodRequest>& requests,
                                          const std::vector<Encoded>& encoded,
                                          std::vector<size_t>* alone) {
  std::map<std::string, size_t> by_context;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto [it, added] = by_context.emplace(requests[i].context, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<SharedContext> shared;
  for (const std::vector<size_t>& members : groups) {
    const std::vector<int32_t>& head = encoded[members[0]].input;
    int64_t prefix = static_cast<int64_t>(head.size());
    for (size_t m : members) {
      const std::vector<int32_t>& input = encoded[m].input;
      int64_t common = 0;
      const int64_t limit = std::min<int64_t>(prefix, static_cast<int64_t>(input.size()));
      while (common < limit && input[common] == head[common]) ++common;
      // The token before the first scored one must be in the member's own pass.
      prefix = std::min(common, static_cast<int64_t>(input.size()) - encoded[m].continuation);
    }
    --prefix;
    if (members.size() < 2 || prefix < 1) {
      alone->insert(alone->end(), members.begin(), members.end());
    } else {
      shared.push_back({members, prefix});
    }
  }
  return shared;
}

// The cache rows of `cache` repeated: row r of the result is row rows[r] of `cache`.
KvCache SelectRows(const KvCache& cache, const at::Tensor& rows) {
  KvCache out;
  for (size_t l = 0; l < cache.keys.size(); ++l) {
    out.keys.push_back(cache.keys[l].index_select(0, rows));
    out.values.push_back(cache.values[l].index_select(0, rows));
  }
  out.key_mask = cache.key_mask.index_select(0, rows);
  out.next_position = cache.next_position.index_select(0, rows);
  out.length = cache.length;
  return out;
}

// Scores the groups, `batch_size` contexts per forward: the prefixes left-padded into one
// cache, then every member's remainder (right-padded) continuing its context's cache row.
void ScoreShared(CausalLM& model, const std::vector<Encoded>& encoded,
                 std::vector<SharedContext> groups, size_t batch_size,
                 std::vector<LoglikelihoodResult>& results, const std::function<void(size_t)>& done) {
  std::stable_sort(groups.begin(), groups.end(), [](const SharedContext& a, const SharedContext& b) {
    return a.prefix > b.prefix;
  });
  const at::Device device = model.device();
  for (size_t first = 0; first < groups.size(); first += batch_size) {
    const size_t last = std::min(groups.size(), first + batch_size);
    const int64_t contexts = static_cast<int64_t>(last - first);
    int64_t prefix_width = 0, rest_width = 0, rows = 0;
    for (size_t g = first; g < last; ++g) {
      prefix_width = std::max(prefix_width, groups[g].prefix);
      for (size_t m : groups[g].members) {
        rest_width = std::max(rest_width, static_cast<int64_t>(encoded[m].input.size()) - groups[g].prefix);
        ++rows;
      }
    }
    at::Tensor prefix_ids = at::zeros({contexts, prefix_width}, at::kLong);
    at::Tensor prefix_mask = at::zeros({contexts, prefix_width}, at::kLong);
    at::Tensor ids = at::zeros({rows, rest_width}, at::kLong);
    at::Tensor mask = at::zeros({rows, rest_width}, at::kLong);
    at::Tensor score = at::zeros({rows, rest_width}, at::kBool);
    std::vector<int64_t> cache_row;  // per member row: its context's row
    std::vector<size_t> row_request;
    for (int64_t c = 0; c < contexts; ++c) {
      const SharedContext& group = groups[first + c];
      const std::vector<int32_t>& head = encoded[group.members[0]].input;
      // Left padding: every context ends at prefix_width, where the remainders start.
      prefix_ids[c].narrow(0, prefix_width - group.prefix, group.prefix)
          .copy_(at::tensor(std::vector<int64_t>(head.begin(), head.begin() + group.prefix), at::kLong));
      prefix_mask[c].narrow(0, prefix_width - group.prefix, group.prefix).fill_(1);
      for (size_t m : group.members) {
        const Encoded& e = encoded[m];
        const int64_t r = static_cast<int64_t>(cache_row.size());
        const int64_t len = static_cast<int64_t>(e.input.size()) - group.prefix;
        ids[r].narrow(0, 0, len).copy_(at::tensor(
            std::vector<int64_t>(e.input.begin() + group.prefix, e.input.end()), at::kLong));
        mask[r].narrow(0, 0, len).fill_(1);
        if (e.continuation > 0) score[r].narrow(0, len - e.continuation, e.continuation).fill_(true);
        cache_row.push_back(c);
        row_request.push_back(m);
      }
    }
    KvCache rows_cache;
    {
      KvCache cache = model.NewCache(contexts, prefix_width + rest_width);
      model.ForwardHidden(prefix_ids.to(device), prefix_mask, &cache);
      rows_cache = SelectRows(cache, at::tensor(cache_row, at::kLong).to(device));
    }
    TokenScores scores = ScoreTokens(model, ids, mask, score, &rows_cache);
    for (int64_t r = 0; r < rows; ++r) Record(scores, r, encoded[row_request[r]], &results[row_request[r]]);
    done(static_cast<size_t>(rows));
  }
}

}  // namespace

std::vector<LoglikelihoodResult> ComputeLoglikelihoods(
    CausalLM& model, const Tokenizer& tokenizer, const std::vector<LoglikelihoodRequest>& requests,
    const LoglikelihoodOptions& options, const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t max_length =
      options.max_length > 0 ? options.max_length : model.config().max_position_embeddings;
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
  std::vector<LoglikelihoodResult> results(requests.size());
  const size_t batch_size = static_cast<size_t>(std::max(1, options.batch_size));
  size_t finished = 0;
  auto done = [&](size_t n) {
    finished += n;
    if (progress) progress(static_cast<int64_t>(finished), static_cast<int64_t>(requests.size()));
  };
  std::vector<size_t> alone;
  std::vector<SharedContext> shared;
  if (options.reuse_context) {
    shared = GroupByContext(requests, encoded, &alone);
  } else {
    alone.resize(requests.size());
    std::iota(alone.begin(), alone.end(), 0);
  }
  ScoreShared(model, encoded, std::move(shared), batch_size, results, done);
  ScoreAlone(model, encoded, std::move(alone), batch_size, results, done);
  return results;
}

}  // namespace llmq
