#include "eval/perplexity.h"

#include <ATen/ATen.h>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/corpus.h"
#include "common/status.h"
#include "eval/scoring.h"
#include "eval/task.h"

namespace llmq {
namespace {

// One window: tokens [begin, end) are the input; those at [score_from, end) are scored.
struct Window {
  int64_t begin, end, score_from;
};

std::vector<Window> PlanWindows(int64_t n, const PerplexityOptions& o, int64_t stride) {
  std::vector<Window> windows;
  if (o.protocol == "windows") {
    for (int64_t begin = 0; begin + o.context <= n; begin += o.context) {
      windows.push_back({begin, begin + o.context, begin + 1});
    }
  } else {
    int64_t scored_until = 1;  // the first token is never predicted
    for (int64_t begin = 0; scored_until < n; begin += stride) {
      const int64_t end = std::min(begin + o.context, n);
      windows.push_back({begin, end, std::max(scored_until, begin + 1)});
      scored_until = end;
    }
  }
  if (o.max_windows > 0 && static_cast<int64_t>(windows.size()) > o.max_windows) {
    windows.resize(o.max_windows);
  }
  return windows;
}

}  // namespace

std::vector<int32_t> EncodeDocuments(const Tokenizer& tokenizer,
                                     const std::vector<std::string>& documents,
                                     bool add_special) {
  std::vector<int32_t> stream;
  for (const std::string& doc : documents) {
    std::vector<int32_t> ids = tokenizer.Encode(doc, add_special);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

absl::StatusOr<PerplexityResult> ComputePerplexity(
    CausalLM& model, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
    const std::function<void(int64_t, int64_t)>& progress) {
  if (options.protocol != "windows" && options.protocol != "rolling") {
    return absl::InvalidArgumentError(
        absl::StrCat("perplexity protocol '", options.protocol, "': expected windows or rolling"));
  }
  if (options.context < 2) {
    return absl::InvalidArgumentError(absl::StrCat("perplexity context ", options.context, ": must be >= 2"));
  }
  const int64_t max_positions = model.config().max_position_embeddings;
  if (options.context > max_positions) {
    return absl::InvalidArgumentError(absl::StrCat("perplexity context ", options.context,
                                                   " exceeds the model's ", max_positions, " positions"));
  }
  const int64_t stride = options.protocol == "rolling" ? options.stride : options.context;
  if (stride < 1) {
    return absl::InvalidArgumentError("perplexity: rolling windows need a stride >= 1");
  }
  if (stride > options.context) {
    return absl::InvalidArgumentError(absl::StrCat("perplexity stride ", stride, " exceeds context ", options.context));
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  const std::vector<Window> windows = PlanWindows(n, options, stride);
  if (windows.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "perplexity: ", n, " tokens are fewer than one window of ", options.context));
  }
  PerplexityResult result;
  result.protocol = options.protocol;
  result.context = options.context;
  result.stride = options.protocol == "rolling" ? stride : options.context;
  result.tokens = n;
  result.windows = static_cast<int64_t>(windows.size());
  const int64_t batch_size = std::max(1, options.batch_size);
  for (size_t first = 0; first < windows.size(); first += batch_size) {
    const size_t last = std::min(windows.size(), first + batch_size);
    const int64_t rows = static_cast<int64_t>(last - first);
    int64_t width = 0;
    for (size_t w = first; w < last; ++w) width = std::max(width, windows[w].end - windows[w].begin);
    // Right padding; padded positions are masked and never scored.
    at::Tensor ids = at::zeros({rows, width}, at::kLong);
    at::Tensor mask = at::zeros({rows, width}, at::kLong);
    at::Tensor score = at::zeros({rows, width}, at::kBool);
    for (int64_t r = 0; r < rows; ++r) {
      const Window& w = windows[first + r];
      const int64_t len = w.end - w.begin;
      ids[r].narrow(0, 0, len).copy_(at::tensor(std::vector<int64_t>(tokens.begin() + w.begin, tokens.begin() + w.end), at::kLong));
      mask[r].narrow(0, 0, len).fill_(1);
      score[r].narrow(0, w.score_from - w.begin, w.end - w.score_from).fill_(true);
      result.predicted_tokens += w.end - w.score_from;
      result.window_tokens.push_back(w.end - w.score_from);
    }
    TokenScores scores = ScoreTokens(model, ids, rows == 1 ? at::Tensor() : mask, score);
    for (double s : scores.logprob_sum) {
      result.nll_sum -= s;
      result.window_nll.push_back(-s);
    }
    if (progress) progress(static_cast<int64_t>(last), result.windows);
  }
  result.ppl = std::exp(result.nll_sum / static_cast<double>(result.predicted_tokens));
  return result;
}

}  // namespace llmq

// The `ppl` task: a corpus -> a token stream -> perplexity under a protocol.
namespace llmq {

absl::StatusOr<TaskOutput> RunPerplexityTask(const Params& params, TaskContext& context) {
  CorpusSpec corpus;
  LLMQ_ASSIGN_OR_RETURN(corpus.dataset, GetString(params, "dataset"));
  LLMQ_ASSIGN_OR_RETURN(corpus.format, GetString(params, "format"));
  // The schema keeps `field` only for jsonl and `stride` only for rolling windows.
  if (corpus.format == "jsonl") {
    LLMQ_ASSIGN_OR_RETURN(corpus.field, GetString(params, "field"));
  }
  PerplexityOptions options;
  LLMQ_ASSIGN_OR_RETURN(options.protocol, GetString(params, "protocol"));
  LLMQ_ASSIGN_OR_RETURN(options.context, GetInt(params, "context"));
  options.context = std::min(options.context, context.model->config().max_position_embeddings);
  if (options.protocol == "rolling") {
    LLMQ_ASSIGN_OR_RETURN(options.stride, GetInt(params, "stride"));
    // The stride was derived from the requested context; the window may have shrunk to
    // the model's positions.
    options.stride = std::min(options.stride, options.context);
  }
  LLMQ_ASSIGN_OR_RETURN(options.max_windows, GetInt(params, "limit"));
  LLMQ_ASSIGN_OR_RETURN(int64_t batch, GetInt(params, "batch_size"));
  options.batch_size = static_cast<int>(batch);
  LLMQ_ASSIGN_OR_RETURN(bool bos, GetBool(params, "bos"));

  LLMQ_ASSIGN_OR_RETURN(std::vector<std::string> docs, LoadCorpus(corpus));
  LLMQ_ASSIGN_OR_RETURN(ResolvedCorpus resolved, ResolveCorpus(corpus));
  if (context.progress) context.progress(0, 0, "tokenizing");
  std::vector<int32_t> stream = EncodeDocuments(*context.tokenizer, docs, bos);
  auto progress = [&](int64_t done, int64_t total) {
    if (context.progress) context.progress(done, total, "windows");
  };
  LLMQ_ASSIGN_OR_RETURN(PerplexityResult r, ComputePerplexity(*context.model, stream, options, progress));

  int64_t bytes = 0, words = 0;
  for (const std::string& d : docs) {
    bytes += static_cast<int64_t>(d.size());
    bool in_word = false;
    for (char c : d) {
      const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (!space && !in_word) ++words;
      in_word = !space;
    }
  }
  TaskOutput out;
  out.metrics = {
      {"ppl", r.ppl, ""},
      {"nll_per_token", r.nll_sum / static_cast<double>(r.predicted_tokens), "nats"},
      {"predicted_tokens", static_cast<double>(r.predicted_tokens), "tokens"},
      {"windows", static_cast<double>(r.windows), ""},
  };
  // Word perplexity and bits per byte are comparable across tokenizers, but only when the
  // whole corpus was scored.
  if (r.protocol == "rolling" && options.max_windows == 0 && r.predicted_tokens + 1 == r.tokens) {
    out.metrics.push_back({"word_ppl", std::exp(r.nll_sum / static_cast<double>(words)), ""});
    out.metrics.push_back({"bits_per_byte", r.nll_sum / std::log(2.0) / static_cast<double>(bytes), "bits"});
  }
  // Windows are the examples: ppl's interval resamples them, token-weighted as the metric.
  ExampleSeries nll{"nll", "ppl", r.window_nll, {}, true};
  for (size_t w = 0; w < r.window_nll.size(); ++w) {
    out.examples.ids.push_back(static_cast<int64_t>(w));
    nll.weights.push_back(static_cast<double>(r.window_tokens[w]));
  }
  out.examples.series = {std::move(nll)};
  out.provenance = {
      {"ppl.protocol", r.protocol},
      {"ppl.context", absl::StrCat(r.context)},
      {"ppl.stride", absl::StrCat(r.stride)},
      {"ppl.tokens", absl::StrCat(r.tokens)},
      {"ppl.windows", absl::StrCat(r.windows)},
      {"ppl.predicted_tokens", absl::StrCat(r.predicted_tokens)},
      {"ppl.dataset", resolved.path},
      {"ppl.format", resolved.format},
      {"ppl.documents", absl::StrCat(docs.size())},
      {"ppl.bos_per_document", bos ? "true" : "false"},
  };
  return out;
}

}  // namespace llmq
