// The `efficiency` task: what a deployment would feel, measured on this device.
//   prefill_ms_<L>      latency of one forward over an L-token prompt (batch 1, median)
//   decode_ms_p50/p95   per-token latency of incremental decoding at batch 1
//   throughput_b<B>     generated tokens per second at batch B (prefill excluded)
//   weight_bytes        bytes of every parameter tensor as held (packed codes count packed)
//   peak_rss_bytes      the process's resident-memory high-water mark (VmHWM): since the
//                       caller last reset it (the worker does once the model is installed,
//                       so quantization's own peak is not counted), else since start-up
// Weight bytes and peak memory are reported separately: a model that dequantizes at
// run time shows small weights but a large peak, and the table says so.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/memory.h"
#include "common/status.h"
#include "eval/task.h"

namespace llmq {
namespace {

using Clock = std::chrono::steady_clock;

double Milliseconds(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double rank = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (rank - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// A deterministic prompt of `length` tokens in the model's vocabulary.
at::Tensor Prompt(int64_t batch, int64_t length, int64_t vocab) {
  at::Tensor ids = (at::arange(batch * length, at::kLong) * 7919 + 13) % std::max<int64_t>(vocab - 3, 1) + 3;
  return ids.view({batch, length});
}

void Synchronize(const CausalLM& model) {
  // A host copy of a device scalar waits for the queued work on that device.
  if (!model.device().is_cpu()) at::zeros({1}, at::TensorOptions().device(model.device())).sum().item<float>();
}

}  // namespace

absl::StatusOr<TaskOutput> RunEfficiencyTask(const Params& params, TaskContext& context) {
  CausalLM& model = *context.model;
  const int64_t max_positions = model.config().max_position_embeddings;
  LLMQ_ASSIGN_OR_RETURN(std::vector<int64_t> lengths, GetIntList(params, "prompt_lengths"));
  LLMQ_ASSIGN_OR_RETURN(int64_t decode_tokens, GetInt(params, "decode_tokens"));
  LLMQ_ASSIGN_OR_RETURN(std::vector<int64_t> batch_sizes, GetIntList(params, "batch_sizes"));
  LLMQ_ASSIGN_OR_RETURN(int64_t repeats, GetInt(params, "repeats"));
  if (decode_tokens < 2) return absl::InvalidArgumentError("efficiency: decode_tokens must be >= 2");
  const int64_t vocab = model.config().vocab_size;
  TaskOutput out;
  std::vector<int64_t> measured_lengths;
  int64_t step = 0;
  const int64_t total_steps = static_cast<int64_t>(lengths.size() + 1 + batch_sizes.size());
  auto report = [&](const std::string& what) {
    if (context.progress) context.progress(++step, total_steps, what);
  };

  // Prefill latency, capped by the model's context.
  for (int64_t length : lengths) {
    const int64_t capped = std::min(length, max_positions);
    if (std::find(measured_lengths.begin(), measured_lengths.end(), capped) != measured_lengths.end()) continue;
    measured_lengths.push_back(capped);
    at::Tensor prompt = Prompt(1, capped, vocab).to(model.device());
    model.Forward(prompt, {}, nullptr, /*last_only=*/true);  // warm-up
    std::vector<double> times;
    for (int64_t r = 0; r < std::max<int64_t>(1, repeats); ++r) {
      Synchronize(model);
      const auto start = Clock::now();
      model.Forward(prompt, {}, nullptr, /*last_only=*/true);
      Synchronize(model);
      times.push_back(Milliseconds(start));
    }
    const double ms = Percentile(times, 0.5);
    out.metrics.push_back({absl::StrCat("prefill_ms_", capped), ms, "ms"});
    out.metrics.push_back({absl::StrCat("prefill_tokens_per_s_", capped), 1000.0 * capped / ms, "tokens/s"});
    report(absl::StrCat("prefill ", capped));
  }

  // Decode latency at batch 1 and throughput at each batch size: a short prompt, then
  // `decode_tokens` single-token steps through the KV cache.
  const int64_t prompt_len = std::min<int64_t>(32, max_positions / 2);
  const int64_t steps = std::min(decode_tokens, max_positions - prompt_len);
  for (int64_t batch : batch_sizes) {
    KvCache cache = model.NewCache(batch, prompt_len + steps);
    at::Tensor logits = model.Forward(Prompt(batch, prompt_len, vocab).to(model.device()), {}, &cache, true);
    at::Tensor ones = at::ones({batch, 1}, at::TensorOptions().dtype(at::kLong).device(model.device()));
    std::vector<double> per_token;
    Synchronize(model);
    const auto start = Clock::now();
    for (int64_t s = 0; s < steps; ++s) {
      const auto t0 = Clock::now();
      at::Tensor next = logits.select(1, 0).argmax(-1, /*keepdim=*/true);  // (batch, 1)
      logits = model.Forward(next, ones, &cache, /*last_only=*/true);
      Synchronize(model);
      per_token.push_back(Milliseconds(t0));
    }
    const double total_ms = Milliseconds(start);
    out.metrics.push_back({absl::StrCat("throughput_b", batch), 1000.0 * batch * steps / total_ms, "tokens/s"});
    if (batch == 1) {
      out.metrics.push_back({"decode_ms_p50", Percentile(per_token, 0.5), "ms"});
      out.metrics.push_back({"decode_ms_p95", Percentile(per_token, 0.95), "ms"});
    }
    report(absl::StrCat("decode batch ", batch));
  }

  out.metrics.push_back({"peak_rss_bytes", static_cast<double>(PeakRssBytes()), "bytes"});
  report("memory");
  out.provenance = {
      {"efficiency.prompt_lengths", absl::StrJoin(measured_lengths, ",")},
      {"efficiency.decode_tokens", absl::StrCat(steps)},
      {"efficiency.decode_prompt_tokens", absl::StrCat(prompt_len)},
      {"efficiency.batch_sizes", absl::StrJoin(batch_sizes, ",")},
      {"efficiency.repeats", absl::StrCat(repeats)},
      {"efficiency.threads", absl::StrCat(at::get_num_threads())},
  };
  return out;
}

}  // namespace llmq
