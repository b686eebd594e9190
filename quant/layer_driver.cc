#include "quant/layer_driver.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (ATen.h stopped including it in 2.x)

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/memory.h"
#include "common/status.h"

namespace llmq {
namespace {

// Where a linear of a block reads its input.
enum class Point { kAttentionIn, kHeads, kMlpIn, kMlpActivation };

Point InputPoint(CausalLM& model, int layer, const std::unique_ptr<Linear>* slot) {
  DecoderBlock& b = model.block(layer);
  if (slot == &b.q_proj || slot == &b.k_proj || slot == &b.v_proj) return Point::kAttentionIn;
  if (slot == &b.o_proj) return Point::kHeads;
  if (slot == &b.down_proj) return Point::kMlpActivation;
  return model.config().parallel_residual() ? Point::kAttentionIn : Point::kMlpIn;  // gate, up
}

// The activations of the block being calibrated, chunk by chunk, computed by passes. A
// pass memoises what it computes for a chunk; when it ends, an activation is kept only if
// every linear it depends on has been processed (its value is final, and under
// true-sequential later stages do not change earlier stages' layers): o_proj's input once
// q/k/v are processed, the attention residual once o_proj is too, and down_proj's input
// once gate/up are, if `keep_mlp_activation` (it is intermediate-sized). So the stages of
// a Llama block cost one block forward in all: q/k/v read only the norm, o's pass
// computes the attention, gate/up's pass o_proj, down's pass gate/up, the output
// down_proj (and gate/up again when their product is not kept).
class BlockActivations {
 public:
  BlockActivations(CausalLM& model, int layer, std::vector<at::Tensor>* hidden,
                   std::function<const ForwardContext&(int64_t)> context_for, bool keep_mlp_activation)
      : model_(model), layer_(layer), b_(model.block(layer)), parallel_(model.config().parallel_residual()),
        keep_mlp_activation_(keep_mlp_activation), hidden_(*hidden), context_for_(std::move(context_for)),
        chunks_(hidden->size()) {}

  // The stage's layers are final from now on.
  void MarkProcessed(const std::vector<NamedLinear>& stage) {
    for (const NamedLinear& linear : stage) processed_.insert(linear.slot);
  }

  // The input of the linears at `point` for chunk c.
  at::Tensor Input(size_t c, Point point) {
    switch (point) {
      case Point::kAttentionIn: return AttentionIn(c);
      case Point::kHeads: return Heads(c);
      case Point::kMlpIn: return MlpIn(c);
      case Point::kMlpActivation: return MlpActivation(c);
    }
    return {};
  }

  // Ends the pass over chunk c: drops what is not final.
  void EndPass(size_t c) {
    Chunk& k = chunks_[c];
    k.attention_in = k.mlp_in = at::Tensor();
    const bool attention = Processed({&b_.q_proj, &b_.k_proj, &b_.v_proj});
    const bool residual = !parallel_ && attention && Processed({&b_.o_proj});
    const bool mlp = keep_mlp_activation_ && Processed({&b_.gate_proj, &b_.up_proj}) &&
                     (parallel_ || residual);
    if (!attention) k.heads = at::Tensor();
    if (!residual) k.residual = at::Tensor();
    if (residual) k.heads = at::Tensor();  // the residual is all the output needs of it
    if (!mlp) k.mlp_activation = at::Tensor();
  }

  // The block's output for chunk c with its layers as they are now (RunBlock's operations);
  // forgets the chunk's activations.
  at::Tensor Output(size_t c) {
    at::Tensor out;
    if (parallel_) {
      out = hidden_[c] + b_.o_proj->Forward(Heads(c)) + b_.down_proj->Forward(MlpActivation(c));
    } else {
      out = Residual(c) + b_.down_proj->Forward(MlpActivation(c));
    }
    chunks_[c] = Chunk();
    return out;
  }

 private:
  struct Chunk {
    at::Tensor attention_in, heads, residual, mlp_in;  // residual: hidden + o_proj(heads)
    at::Tensor mlp_activation;                         // down_proj's input
  };

  bool Processed(std::initializer_list<const std::unique_ptr<Linear>*> slots) const {
    for (const auto* slot : slots) {
      if (*slot != nullptr && processed_.count(slot) == 0) return false;  // Phi: no gate
    }
    return true;
  }
  const ForwardContext& Context(size_t c) { return context_for_(hidden_[c].size(0)); }
  at::Tensor AttentionIn(size_t c) {
    at::Tensor& t = chunks_[c].attention_in;
    if (!t.defined()) t = b_.attn_norm.Forward(hidden_[c]);
    return t;
  }
  at::Tensor Heads(size_t c) {
    at::Tensor& t = chunks_[c].heads;
    if (!t.defined()) t = model_.AttentionHeads(layer_, AttentionIn(c), Context(c));
    return t;
  }
  at::Tensor Residual(size_t c) {
    at::Tensor& t = chunks_[c].residual;
    if (!t.defined()) t = hidden_[c] + b_.o_proj->Forward(Heads(c));
    return t;
  }
  at::Tensor MlpIn(size_t c) {
    if (parallel_) return AttentionIn(c);
    at::Tensor& t = chunks_[c].mlp_in;
    if (!t.defined()) t = b_.mlp_norm.Forward(Residual(c));
    return t;
  }
  at::Tensor MlpActivation(size_t c) {
    at::Tensor& t = chunks_[c].mlp_activation;
    if (!t.defined()) t = model_.MlpActivation(layer_, MlpIn(c));
    return t;
  }

  CausalLM& model_;
  const int layer_;
  DecoderBlock& b_;
  const bool parallel_;
  const bool keep_mlp_activation_;
  std::vector<at::Tensor>& hidden_;
  std::function<const ForwardContext&(int64_t)> context_for_;
  std::vector<Chunk> chunks_;
  std::set<const std::unique_ptr<Linear>*> processed_;
};

}  // namespace

std::vector<std::vector<NamedLinear>> BlockStages(CausalLM& model, int layer,
                                                  bool true_sequential) {
  std::vector<NamedLinear> all;
  for (const NamedLinear& linear : model.Linears()) {
    if (linear.layer == layer) all.push_back(linear);
  }
  if (!true_sequential) return {all};
  DecoderBlock& b = model.block(layer);
  auto pick = [&](std::initializer_list<std::unique_ptr<Linear>*> slots) {
    std::vector<NamedLinear> stage;
    for (std::unique_ptr<Linear>* slot : slots) {
      for (const NamedLinear& linear : all) {
        if (linear.slot == slot) stage.push_back(linear);
      }
    }
    return stage;
  };
  if (model.config().parallel_residual()) {
    // Phi: attention and MLP read the same normed input.
    return {pick({&b.q_proj, &b.k_proj, &b.v_proj, &b.up_proj}), pick({&b.o_proj}),
            pick({&b.down_proj})};
  }
  return {pick({&b.q_proj, &b.k_proj, &b.v_proj}), pick({&b.o_proj}),
          pick({&b.gate_proj, &b.up_proj}), pick({&b.down_proj})};
}

std::vector<size_t> SameInputAs(CausalLM& model, int layer, const std::vector<NamedLinear>& stage) {
  std::vector<size_t> first(stage.size());
  for (size_t i = 0; i < stage.size(); ++i) {
    first[i] = i;
    for (size_t j = 0; j < i; ++j) {
      if (InputPoint(model, layer, stage[j].slot) == InputPoint(model, layer, stage[i].slot)) {
        first[i] = j;
        break;
      }
    }
  }
  return first;
}

bool KeepsMlpActivation(CausalLM& model, int layer, const at::Tensor& tokens,
                       const LayerDriverOptions& options) {
  if (!options.true_sequential) return false;  // one stage: nothing is final before its output
  int64_t budget = options.mlp_activation_bytes;
  if (budget < 0) budget = model.device().is_cpu() ? std::max<int64_t>(0, AvailableMemoryBytes() / 2) : 0;
  const int64_t bytes = tokens.numel() * model.block(layer).down_proj->in_features() *
                        static_cast<int64_t>(c10::elementSize(model.dtype()));
  return bytes <= budget;
}

absl::Status RunLayerSequential(CausalLM& model, const at::Tensor& tokens, BlockMethod& method,
                                const LayerDriverOptions& options) {
  if (!tokens.defined() || tokens.dim() != 2 || tokens.size(0) == 0 || tokens.size(1) == 0) {
    return absl::InvalidArgumentError(
        "calibration tokens must be a non-empty (samples, seq_len) tensor");
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size ", options.batch_size, " must be positive"));
  }
  return CatchExceptions("layer-sequential calibration", [&]() -> absl::Status {
    at::NoGradGuard no_grad;
    const int64_t samples = tokens.size(0), seq = tokens.size(1);
    std::vector<at::Tensor> hidden;  // chunks of (batch, seq, hidden) in the model's dtype
    for (int64_t start = 0; start < samples; start += options.batch_size) {
      hidden.push_back(
          model.Embed(tokens.narrow(0, start, std::min(options.batch_size, samples - start))));
    }
    std::map<int64_t, ForwardContext> contexts;  // by chunk batch size
    auto context_for = [&](int64_t batch) -> const ForwardContext& {
      auto it = contexts.find(batch);
      if (it == contexts.end()) {
        it = contexts.emplace(batch, model.MakeContext(at::Tensor(), batch, seq, nullptr)).first;
      }
      return it->second;
    };

    const int layers = model.num_layers();
    for (int layer = 0; layer < layers; ++layer) {
      BlockActivations block(model, layer, &hidden, context_for,
                             KeepsMlpActivation(model, layer, tokens, options));
      for (const std::vector<NamedLinear>& stage :
           BlockStages(model, layer, options.true_sequential)) {
        std::vector<std::unique_ptr<InputObserver>> observers;
        const std::vector<size_t> same_input = SameInputAs(model, layer, stage);
        for (size_t i = 0; i < stage.size(); ++i) {
          // The first observed linear before this one that reads the same input.
          InputObserver* shared = nullptr;
          for (size_t j = 0; j < i && shared == nullptr; ++j) {
            if (same_input[j] == same_input[i]) shared = observers[j].get();
          }
          observers.push_back(method.NewObserver(stage[i], shared));
        }
        // The stage's pass: each observed linear sees its input, chunk by chunk.
        for (size_t c = 0; c < hidden.size(); ++c) {
          for (size_t i = 0; i < stage.size(); ++i) {
            if (observers[i] != nullptr) {
              observers[i]->Observe(block.Input(c, InputPoint(model, layer, stage[i].slot)));
            }
          }
          block.EndPass(c);
        }
        LLMQ_RETURN_IF_ERROR(Annotate(method.ProcessStage(model, layer, stage, observers),
                                      absl::StrCat("layer ", layer)));
        block.MarkProcessed(stage);
      }
      for (size_t c = 0; c < hidden.size(); ++c) hidden[c] = block.Output(c);
      if (options.progress) options.progress(layer + 1, layers);
    }
    return absl::OkStatus();
  });
}

}  // namespace llmq
