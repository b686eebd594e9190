#include "quant/layer_driver.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (ATen.h stopped including it in 2.x)

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace llmq {
namespace {

// Thrown by the last observing linear of a stage pass once every observed linear has seen
// its input: the rest of the block's forward feeds no observer, and a stage pass's output
// is discarded, so the pass stops there. (The true-sequential stages of a Llama block run
// q/k/v, o, gate/up and down: stopping after each stage's last input does 0.51x the
// forward FLOPs of running the whole block per stage.)
struct StagePassComplete {};

// Which observed linears have seen their input in the current pass.
class PassProgress {
 public:
  explicit PassProgress(size_t observed) : observed_(observed) {}
  void Start() { seen_.clear(); }
  // After `who` observed: throws StagePassComplete once all have.
  void Seen(const void* who) {
    seen_.insert(who);
    if (seen_.size() == observed_) throw StagePassComplete{};
  }

 private:
  size_t observed_;
  std::set<const void*> seen_;
};

// Shows every input to an observer, then computes as the wrapped layer does (unless it was
// the stage's last input: PassProgress).
class ObservingLinear : public Linear {
 public:
  ObservingLinear(std::unique_ptr<Linear> inner, InputObserver* observer, PassProgress* progress)
      : inner_(std::move(inner)), observer_(observer), progress_(progress) {}

  at::Tensor Forward(const at::Tensor& x) const override {
    observer_->Observe(x);
    progress_->Seen(this);
    return inner_->Forward(x);
  }
  int64_t in_features() const override { return inner_->in_features(); }
  int64_t out_features() const override { return inner_->out_features(); }
  int64_t WeightBytes() const override { return inner_->WeightBytes(); }
  std::string Describe() const override { return "observed " + inner_->Describe(); }
  at::Tensor* mutable_dense_weight() override { return inner_->mutable_dense_weight(); }
  at::Tensor bias() const override { return inner_->bias(); }

  std::unique_ptr<Linear> Release() { return std::move(inner_); }

 private:
  std::unique_ptr<Linear> inner_;
  InputObserver* observer_;
  PassProgress* progress_;
};

// Wraps the observed slots of a stage for one pass; puts the layers back when destroyed,
// also when the pass throws.
class ObservedSlots {
 public:
  ObservedSlots(const std::vector<NamedLinear>& stage,
                const std::vector<std::unique_ptr<InputObserver>>& observers, PassProgress* progress) {
    for (size_t i = 0; i < stage.size(); ++i) {
      if (observers[i] == nullptr) continue;
      std::unique_ptr<Linear>* slot = stage[i].slot;
      *slot = std::make_unique<ObservingLinear>(std::move(*slot), observers[i].get(), progress);
      wrapped_.push_back(slot);
    }
  }
  ~ObservedSlots() {
    for (std::unique_ptr<Linear>* slot : wrapped_) {
      *slot = static_cast<ObservingLinear*>(slot->get())->Release();
    }
  }
  ObservedSlots(const ObservedSlots&) = delete;
  ObservedSlots& operator=(const ObservedSlots&) = delete;

 private:
  std::vector<std::unique_ptr<Linear>*> wrapped_;
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
  DecoderBlock& b = model.block(layer);
  // Which tensor each slot reads: 0 the attention norm's output, 1 the MLP norm's, -1 its own.
  auto input_of = [&](const std::unique_ptr<Linear>* slot) {
    if (slot == &b.q_proj || slot == &b.k_proj || slot == &b.v_proj) return 0;
    if (model.config().parallel_residual()) return slot == &b.up_proj ? 0 : -1;
    return slot == &b.gate_proj || slot == &b.up_proj ? 1 : -1;
  };
  std::vector<size_t> first(stage.size());
  for (size_t i = 0; i < stage.size(); ++i) {
    first[i] = i;
    const int input = input_of(stage[i].slot);
    if (input < 0) continue;
    for (size_t j = 0; j < i; ++j) {
      if (input_of(stage[j].slot) == input) {
        first[i] = j;
        break;
      }
    }
  }
  return first;
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
      for (const std::vector<NamedLinear>& stage :
           BlockStages(model, layer, options.true_sequential)) {
        std::vector<std::unique_ptr<InputObserver>> observers;
        const std::vector<size_t> same_input = SameInputAs(model, layer, stage);
        bool any = false;
        for (size_t i = 0; i < stage.size(); ++i) {
          // The first observed linear before this one that reads the same input.
          InputObserver* shared = nullptr;
          for (size_t j = 0; j < i && shared == nullptr; ++j) {
            if (same_input[j] == same_input[i]) shared = observers[j].get();
          }
          observers.push_back(method.NewObserver(stage[i], shared));
          any = any || observers.back() != nullptr;
        }
        if (any) {
          PassProgress progress(static_cast<size_t>(
              std::count_if(observers.begin(), observers.end(), [](const auto& o) { return o != nullptr; })));
          ObservedSlots observed(stage, observers, &progress);
          for (const at::Tensor& chunk : hidden) {
            progress.Start();
            try {
              model.RunBlock(layer, chunk, context_for(chunk.size(0)));
            } catch (const StagePassComplete&) {
            }
          }
        }
        LLMQ_RETURN_IF_ERROR(Annotate(method.ProcessStage(model, layer, stage, observers),
                                      absl::StrCat("layer ", layer)));
      }
      for (at::Tensor& chunk : hidden)
        chunk = model.RunBlock(layer, chunk, context_for(chunk.size(0)));
      if (options.progress) options.progress(layer + 1, layers);
    }
    return absl::OkStatus();
  });
}

}  // namespace llmq
