#include "eval/scoring.h"

#include <ATen/ATen.h>

namespace llmq {

TokenScores ScoreTokens(CausalLM& model, const at::Tensor& tokens,
                        const at::Tensor& attention_mask, const at::Tensor& score_mask,
                        KvCache* cache) {
  const int64_t batch = tokens.size(0), seq = tokens.size(1);
  const at::Device device = model.device();
  at::Tensor ids = tokens.to(device, at::kLong);
  at::Tensor hidden = model.ForwardHidden(ids, attention_mask, cache);  // (batch, seq, hidden)
  // Position t's logits predict token t+1: targets are ids shifted left by one.
  at::Tensor targets = ids.narrow(1, 1, seq - 1);                        // (batch, seq-1)
  at::Tensor wanted = score_mask.to(device, at::kBool).narrow(1, 1, seq - 1);  // (batch, seq-1)
  at::Tensor sums = at::zeros({batch}, at::TensorOptions().dtype(at::kDouble).device(device));
  at::Tensor misses = at::zeros({batch}, at::TensorOptions().dtype(at::kLong).device(device));
  // Slice length chosen so a slice's logits stay around 64M floats.
  const int64_t vocab = model.config().vocab_size;
  const int64_t slice = std::max<int64_t>(1, std::min<int64_t>(seq - 1, (64 << 20) / std::max<int64_t>(1, batch * vocab)));
  for (int64_t start = 0; start < seq - 1; start += slice) {
    const int64_t len = std::min(slice, seq - 1 - start);
    at::Tensor w = wanted.narrow(1, start, len);
    if (!w.any().item<bool>()) continue;
    at::Tensor logits = model.Logits(hidden.narrow(1, start, len));  // (batch, len, vocab) f32
    at::Tensor t = targets.narrow(1, start, len);
    at::Tensor logp = at::log_softmax(logits, -1).gather(2, t.unsqueeze(2)).squeeze(2);  // (batch, len)
    sums += (logp.to(at::kDouble) * w.to(at::kDouble)).sum(1);
    misses += (logits.argmax(-1).ne(t).logical_and(w)).to(at::kLong).sum(1);
  }
  at::Tensor sums_cpu = sums.cpu(), misses_cpu = misses.cpu();
  TokenScores out;
  for (int64_t b = 0; b < batch; ++b) {
    out.logprob_sum.push_back(sums_cpu[b].item<double>());
    out.all_greedy.push_back(misses_cpu[b].item<int64_t>() == 0);
  }
  return out;
}

}  // namespace llmq
