// Evaluation speed on stories260K, each figure a ratio of two runs in the same process:
//   choices  BoolQ (bundled validation set, lm-eval's prompt, " no" / " yes") with context
//            reuse against scoring every choice alone: tokens/s of the requests' inputs
//            (context + continuation as scored alone; the same count for both), and whether
//            every log-likelihood agrees within 1e-5 (goal: >= 1.8x, all agree), next to
//            the float32 noise floor: the same requests scored alone at batch 1;
//   ppl      perplexity windows of the TinyStories validation stream under a GPTQ 4-bit g128
//            packed model against the fp32 model (tokens/s; goal: >= 1.0x).
// Usage: llmq_eval_bench [--threads=0] [--items=64] [--windows=8] [--context=512]
//                        [--batch=8] [--model=assets/models/stories260K/stories260K.bin]
//                        [--only=choices|ppl]
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/corpus.h"
#include "common/cpu.h"
#include "eval/boolq.h"
#include "eval/choice_scoring.h"
#include "eval/loglikelihood.h"
#include "eval/perplexity.h"
#include "model/loader.h"
#include "model/runtime.h"
#include "quant/quantize.h"

namespace llmq {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "eval bench: %s\n", value.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*value);
}

// Best of `repeats` wall times of fn().
template <typename Fn>
double BestSeconds(int repeats, Fn fn) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    fn();
    best = std::min(best, Seconds(start));
  }
  return best;
}

void BenchChoices(CausalLM& model, const Tokenizer& tokenizer, int64_t n, int batch) {
  std::vector<BoolqExample> examples = OrDie(LoadBoolq(DefaultBoolqPath()));
  std::vector<ChoiceItem> items;
  for (size_t i = 0; i < examples.size() && static_cast<int64_t>(items.size()) < n; ++i) {
    items.push_back({BoolqPrompt(examples[i]), BoolqChoices(), examples[i].answer ? 1 : 0});
  }
  LoglikelihoodOptions alone, reused;
  alone.reuse_context = false;
  alone.add_special = reused.add_special = true;
  alone.batch_size = reused.batch_size = batch;
  int64_t tokens = 0;
  for (const ChoiceItem& item : items) {
    for (const std::string& choice : item.choices) {
      auto [ctx, cont] = EncodePair(tokenizer, {item.context, " " + choice}, true);
      tokens += static_cast<int64_t>(std::min<size_t>(ctx.size() + cont.size(),
                                                      model.config().max_position_embeddings + 1));
    }
  }
  std::vector<ChoiceOutcome> a, b;
  ScoreChoices(model, tokenizer, std::vector<ChoiceItem>(items.begin(), items.begin() + 4), " ",
               alone);  // warm-up
  const double alone_s = BestSeconds(2, [&] { a = ScoreChoices(model, tokenizer, items, " ", alone); });
  const double reused_s = BestSeconds(2, [&] { b = ScoreChoices(model, tokenizer, items, " ", reused); });
  // Largest |difference| of two scorings of the same requests, absolute and relative to
  // the log-likelihood.
  struct Diff {
    double abs = 0, rel = 0;
  };
  auto compare = [&](const std::vector<ChoiceOutcome>& x, const std::vector<ChoiceOutcome>& y) {
    Diff d;
    for (size_t i = 0; i < x.size(); ++i) {
      for (size_t k = 0; k < x[i].logprobs.size(); ++k) {
        const double e = std::abs(x[i].logprobs[k] - y[i].logprobs[k]);
        d.abs = std::max(d.abs, e);
        d.rel = std::max(d.rel, e / std::max(1e-30, std::abs(x[i].logprobs[k])));
      }
    }
    return d;
  };
  int64_t same_answers = 0;
  for (size_t i = 0; i < items.size(); ++i) same_answers += a[i].predicted == b[i].predicted;
  const Diff reuse = compare(a, b);
  // The float32 noise floor: the same requests scored alone at batch 1 instead of `batch`
  // differ by this much without any reuse (other GEMM shapes, other summation orders).
  LoglikelihoodOptions one = alone;
  one.batch_size = 1;
  const Diff floor = compare(a, ScoreChoices(model, tokenizer, items, " ", one));
  std::printf("  boolq %zu items (%lld request tokens), batch %d: alone %.0f tokens/s (%.2f s), "
              "context reuse %.0f tokens/s (%.2f s) = %.2fx (goal >= 1.8x); "
              "max |dlogprob| %.3g, relative %.2g (goal <= 1e-5; float32 noise, batch 1 vs %d alone: "
              "%.2g, relative %.2g), same answers %lld/%zu\n",
              items.size(), (long long)tokens, batch, tokens / alone_s, alone_s, tokens / reused_s,
              reused_s, alone_s / reused_s, reuse.abs, reuse.rel, batch, floor.abs, floor.rel,
              (long long)same_answers, items.size());
}

void BenchPerplexity(const std::string& path, const Tokenizer& tokenizer, int64_t windows,
                     int64_t context, int batch) {
  LoadedModel fp32_loaded = OrDie(LoadModel(path, LoadOptions{}));
  LoadedModel packed_loaded = OrDie(LoadModel(path, LoadOptions{}));
  CausalLM& fp32 = *fp32_loaded.model;
  CausalLM& packed = *packed_loaded.model;
  CalibrationSpec calibration;
  calibration.dataset = "tinystories";
  calibration.samples = 16;
  calibration.seq_len = 256;
  QuantizationReport report = OrDie(QuantizeModel(
      packed, tokenizer, "gptq", {{"bits", "4"}, {"group_size", "128"}}, calibration));
  std::printf("  gptq: %s\n", report.description.c_str());

  CorpusSpec corpus;
  corpus.dataset = "tinystories";
  corpus.format = DefaultCorpusFormat("tinystories");
  std::vector<int32_t> stream = EncodeDocuments(tokenizer, OrDie(LoadCorpus(corpus)), true);
  PerplexityOptions options;
  options.context = std::min(context, fp32.config().max_position_embeddings);
  options.max_windows = windows;
  options.batch_size = batch;
  PerplexityResult r32, r4;
  PerplexityOptions warm_up = options;
  warm_up.max_windows = 1;
  OrDie(ComputePerplexity(fp32, stream, warm_up));
  OrDie(ComputePerplexity(packed, stream, warm_up));
  // Interleaved, best of 7 each: a slow spell of a shared machine hits both models.
  double fp32_s = 1e30, int4_s = 1e30;
  for (int r = 0; r < 7; ++r) {
    fp32_s = std::min(fp32_s, BestSeconds(1, [&] { r32 = OrDie(ComputePerplexity(fp32, stream, options)); }));
    int4_s = std::min(int4_s, BestSeconds(1, [&] { r4 = OrDie(ComputePerplexity(packed, stream, options)); }));
  }
  const double tokens = static_cast<double>(r32.windows * options.context);
  std::printf("  ppl %lld windows x %lld tokens, batch %d: fp32 %.0f tokens/s (ppl %.3f), "
              "gptq 4-bit g128 %.0f tokens/s (ppl %.3f) = %.2fx fp32 (goal >= 1.0x)\n",
              (long long)r32.windows, (long long)options.context, batch, tokens / fp32_s, r32.ppl,
              tokens / int4_s, r4.ppl, fp32_s / int4_s);
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  using namespace llmq;
  int threads = 0, batch = 8;
  int64_t items = 64, windows = 8, context = 512;
  std::string model_path = AssetPath("models/stories260K/stories260K.bin"), only;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return std::strncmp(argv[i], flag, n) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--threads=")) threads = std::atoi(v);
    else if (const char* v = value("--items=")) items = std::atoll(v);
    else if (const char* v = value("--windows=")) windows = std::atoll(v);
    else if (const char* v = value("--context=")) context = std::atoll(v);
    else if (const char* v = value("--batch=")) batch = std::atoi(v);
    else if (const char* v = value("--model=")) model_path = v;
    else if (const char* v = value("--only=")) only = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  threads = ConfigureCpuRuntime(threads);
  LoadedModel loaded = OrDie(LoadModel(model_path, LoadOptions{}));
  FitBlasThreadsToModel(loaded.model->config().hidden_size, threads);
  std::printf("eval bench: %s, %d threads\n", model_path.c_str(), threads);
  if (only.empty() || only == "choices") BenchChoices(*loaded.model, *loaded.tokenizer, items, batch);
  if (only.empty() || only == "ppl") BenchPerplexity(model_path, *loaded.tokenizer, windows, context, batch);
  return 0;
}
