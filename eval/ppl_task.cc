// The `ppl` task: a corpus -> a token stream -> perplexity under a protocol.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/corpus.h"
#include "common/status.h"
#include "eval/perplexity.h"
#include "eval/task.h"

namespace llmq {

absl::StatusOr<TaskOutput> RunPerplexityTask(const Params& params, TaskContext& context) {
  CorpusSpec corpus;
  corpus.dataset = GetString(params, "dataset", "wikitext2");
  corpus.format = GetString(params, "format", "");
  corpus.field = GetString(params, "field", "text");
  PerplexityOptions options;
  options.protocol = GetString(params, "protocol", "windows");
  LLMQ_ASSIGN_OR_RETURN(options.context, GetInt(params, "context", 2048));
  options.context = std::min(options.context, context.model->config().max_position_embeddings);
  LLMQ_ASSIGN_OR_RETURN(options.stride, GetInt(params, "stride", 0));
  LLMQ_ASSIGN_OR_RETURN(options.max_windows, GetInt(params, "limit", 0));
  LLMQ_ASSIGN_OR_RETURN(int64_t batch, GetInt(params, "batch_size", 1));
  options.batch_size = static_cast<int>(batch);
  LLMQ_ASSIGN_OR_RETURN(bool bos, GetBool(params, "bos", true));

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
