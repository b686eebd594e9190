#include "model/generate.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <random>

namespace llmq {
namespace {

// Picks the next token from one row of logits (vocab) on the CPU, so results do not
// depend on the device's random number generator.
int32_t PickToken(const at::Tensor& logits_row, const GenerationOptions& options,
                  std::mt19937_64& rng) {
  if (options.greedy) return static_cast<int32_t>(logits_row.argmax().item<int64_t>());
  at::Tensor scaled = logits_row.to(at::kCPU, at::kDouble) / std::max(options.temperature, 1e-6);
  if (options.top_k > 0 && options.top_k < scaled.size(0)) {
    const double kth = std::get<0>(scaled.topk(options.top_k)).min().item<double>();
    scaled.masked_fill_(scaled < kth, -INFINITY);
  }
  at::Tensor probs = at::softmax(scaled, 0).contiguous();
  const double* p = probs.data_ptr<double>();
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double r = uniform(rng), cumulative = 0.0;
  for (int64_t i = 0; i < probs.size(0); ++i) {
    cumulative += p[i];
    if (r < cumulative) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(probs.size(0) - 1);
}

// Cuts `gen` at the first stop string in its decoded text; true if one was found.
bool ApplyStopStrings(const Tokenizer& tokenizer, const GenerationOptions& options,
                      Generation& gen) {
  if (options.stop_strings.empty()) return false;
  const std::string text = tokenizer.Decode(gen.ids);
  size_t cut = std::string::npos;
  for (const std::string& stop : options.stop_strings) {
    const size_t at = text.find(stop);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut == std::string::npos) return false;
  gen.text = text.substr(0, cut);
  gen.stop_reason = "stop_string";
  return true;
}

}  // namespace

std::vector<Generation> Generate(CausalLM& model, const Tokenizer* tokenizer,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const GenerationOptions& options) {
  const int64_t batch = static_cast<int64_t>(prompts.size());
  std::vector<Generation> out(prompts.size());
  if (batch == 0) return out;
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  const int64_t prompt_len = static_cast<int64_t>(longest);
  // Left padding: every row's last prompt token sits in the last column.
  at::Tensor tokens = at::zeros({batch, prompt_len}, at::kLong);
  at::Tensor mask = at::zeros({batch, prompt_len}, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = prompts[b];
    const int64_t pad = prompt_len - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      tokens[b][pad + static_cast<int64_t>(i)] = p[i];
      mask[b][pad + static_cast<int64_t>(i)] = 1;
    }
  }
  KvCache cache = model.NewCache(batch, prompt_len + options.max_new_tokens);
  at::Tensor logits = model.Forward(tokens, mask, &cache, /*last_only=*/true);  // (batch, 1, vocab)
  std::mt19937_64 rng(options.seed);
  std::vector<bool> done(prompts.size(), false);
  const std::optional<int32_t> eos = tokenizer != nullptr ? tokenizer->eos_id()
                                                          : model.config().eos_token_id;
  for (int step = 0; step < options.max_new_tokens; ++step) {
    at::Tensor last = logits.select(1, 0).to(at::kCPU);  // (batch, vocab)
    at::Tensor next = at::zeros({batch, 1}, at::kLong);
    bool all_done = true;
    for (int64_t b = 0; b < batch; ++b) {
      if (done[b]) continue;
      const int32_t token = PickToken(last[b], options, rng);
      next[b][0] = token;
      Generation& gen = out[b];
      if (options.stop_at_eos && eos && token == *eos) {
        done[b] = true;
        gen.stop_reason = "eos";
        continue;
      }
      gen.ids.push_back(token);
      if (tokenizer != nullptr && ApplyStopStrings(*tokenizer, options, gen)) {
        done[b] = true;
        continue;
      }
      all_done = false;
    }
    if (all_done || step + 1 == options.max_new_tokens) break;
    logits = model.Forward(next, at::ones({batch, 1}, at::kLong), &cache, /*last_only=*/true);
  }
  for (int64_t b = 0; b < batch; ++b) {
    Generation& gen = out[b];
    if (gen.stop_reason.empty()) gen.stop_reason = "length";
    if (gen.stop_reason != "stop_string" && tokenizer != nullptr) gen.text = tokenizer->Decode(gen.ids);
  }
  return out;
}

}  // namespace llmq
