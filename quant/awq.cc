#include "quant/awq.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "quant/gptq.h"

namespace llmq {
namespace {

// Mean squared output error of weight error d (rows, in) for inputs with second moment
// gram (in, in): (1/rows) Σ_r d_r G d_rᵀ.
double OutputMse(const at::Tensor& d, const at::Tensor& gram) {
  return (d.matmul(gram) * d).sum().item<double>() / static_cast<double>(d.size(0));
}

// Σ x xᵀ and Σ |x| of one input over the calibration tokens.
class GramObserver : public InputObserver {
 public:
  GramObserver(int64_t in, at::Device device)
      : gram_(in, at::kFloat, device),
        abs_sum_(at::zeros({in}, at::TensorOptions().dtype(at::kDouble).device(device))) {}
  void Observe(const at::Tensor& x) override {
    gram_.Add(x);
    abs_sum_.add_(x.reshape({-1, x.size(-1)}).to(at::kFloat).abs().sum(0).to(at::kDouble));
  }
  int64_t tokens() const { return gram_.tokens(); }
  // (1/n) Σ x xᵀ (in, in) float32: the accumulator's 2/n Σ x xᵀ halved.
  at::Tensor Gram() const { return gram_.Hessian() * 0.5; }
  at::Tensor AbsMean() const { return (abs_sum_ / static_cast<double>(tokens())).to(at::kFloat); }

 private:
  HessianAccumulator gram_;
  at::Tensor abs_sum_;  // (in) float64
};

at::Tensor DenseFloat(const NamedLinear& linear) {
  return (*linear.slot)->mutable_dense_weight()->to(at::kFloat);
}

}  // namespace

std::vector<AwqGroup> AwqGroups(CausalLM& model, int layer) {
  DecoderBlock& b = model.block(layer);
  std::map<std::unique_ptr<Linear>*, NamedLinear> by_slot;
  for (const NamedLinear& linear : model.Linears()) {
    if (linear.layer == layer) by_slot.emplace(linear.slot, linear);
  }
  auto named = [&](std::initializer_list<std::unique_ptr<Linear>*> slots) {
    std::vector<NamedLinear> out;
    for (auto* slot : slots) {
      auto it = by_slot.find(slot);
      if (it != by_slot.end()) out.push_back(it->second);
    }
    return out;
  };
  std::vector<AwqGroup> groups;
  const bool v_feeds_o = b.v_proj->out_features() == b.o_proj->in_features();
  if (model.config().parallel_residual()) {
    groups.push_back({"input_layernorm", &b.attn_norm, nullptr,
                      named({&b.q_proj, &b.k_proj, &b.v_proj, &b.up_proj})});
    if (v_feeds_o) groups.push_back({"self_attn.v_proj", nullptr, &b.v_proj, named({&b.o_proj})});
    return groups;
  }
  groups.push_back(
      {"input_layernorm", &b.attn_norm, nullptr, named({&b.q_proj, &b.k_proj, &b.v_proj})});
  if (v_feeds_o) groups.push_back({"self_attn.v_proj", nullptr, &b.v_proj, named({&b.o_proj})});
  groups.push_back(
      {"post_attention_layernorm", &b.mlp_norm, nullptr, named({&b.gate_proj, &b.up_proj})});
  groups.push_back({"mlp.up_proj", nullptr, &b.up_proj, named({&b.down_proj})});
  return groups;
}

absl::Status ApplyAwqScales(const AwqGroup& group, const at::Tensor& scales) {
  return CatchExceptions(
      absl::StrCat("awq scaling after ", group.prev_name), [&]() -> absl::Status {
        const int64_t in = scales.numel();
        for (const NamedLinear& linear : group.linears) {
          if ((*linear.slot)->mutable_dense_weight() == nullptr ||
              (*linear.slot)->in_features() != in) {
            return absl::FailedPreconditionError(
                absl::StrCat(linear.name, " is not a dense layer with ", in,
                             " inputs: ", (*linear.slot)->Describe()));
          }
        }
        if (group.prev_norm != nullptr) {
          Norm& n = *group.prev_norm;
          if (n.weight.numel() != in)
            return absl::FailedPreconditionError("norm width differs from the scales");
          at::Tensor s = scales.to(n.weight.device(), at::kFloat);
          n.weight = (n.weight.to(at::kFloat) / s).to(n.weight.scalar_type());
          if (n.bias.defined()) n.bias = (n.bias.to(at::kFloat) / s).to(n.bias.scalar_type());
        } else {
          Linear& prev = **group.prev_linear;
          at::Tensor* w = prev.mutable_dense_weight();
          if (w == nullptr || prev.out_features() != in) {
            return absl::FailedPreconditionError(absl::StrCat(
                group.prev_name, " is not a dense layer with ", in, " outputs: ", prev.Describe()));
          }
          at::Tensor s = scales.to(w->device(), at::kFloat);
          *w = (w->to(at::kFloat) / s.unsqueeze(1)).to(w->scalar_type());  // (out, in) rows / s
          at::Tensor bias = prev.bias();  // shares the layer's storage
          if (bias.defined()) bias.copy_(bias.to(at::kFloat) / s);
        }
        for (const NamedLinear& linear : group.linears) {
          at::Tensor* w = (*linear.slot)->mutable_dense_weight();
          at::Tensor s = scales.to(w->device(), at::kFloat);
          *w = (w->to(at::kFloat) * s.unsqueeze(0)).to(w->scalar_type());  // columns * s
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<AwqScaleSearch> SearchAwqScales(const at::Tensor& gram, const at::Tensor& x_abs_mean,
                                               const std::vector<at::Tensor>& weights,
                                               const AwqOptions& options) {
  if (weights.empty() || options.grid < 1) {
    return absl::InvalidArgumentError("awq scale search needs weights and grid >= 1");
  }
  return CatchExceptions("awq scale search", [&]() -> absl::StatusOr<AwqScaleSearch> {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& w : weights) parts.push_back(w.to(gram.device(), at::kFloat));
    at::Tensor w = at::cat(parts, 0);                           // (rows, in)
    at::Tensor g = gram.to(at::kFloat);                         // (in, in)
    at::Tensor x_mean = x_abs_mean.to(w.device(), at::kFloat);  // (in)
    AwqScaleSearch best;
    best.loss = std::numeric_limits<double>::infinity();
    for (int r = 0; r < options.grid; ++r) {
      const double alpha = static_cast<double>(r) / options.grid;
      at::Tensor s = x_mean.pow(alpha).clamp_min(1e-4);
      s = s / (s.max() * s.min()).sqrt();
      s = at::where(at::isfinite(s), s, at::ones_like(s));
      at::Tensor dq = Dequantize(QuantizeGroups(w * s.unsqueeze(0), options.spec)).to(w.device());
      const double loss = OutputMse(dq / s.unsqueeze(0) - w, g);
      if (r == 0) best.rtn_loss = loss;
      if (loss < best.loss) {
        best.loss = loss;
        best.alpha = alpha;
        best.scales = s;
      }
    }
    if (!best.scales.defined()) {
      return absl::InternalError("awq scale search: no finite loss on the grid");
    }
    return best;
  });
}

absl::StatusOr<at::Tensor> SearchAwqClip(const at::Tensor& weight, const at::Tensor& gram,
                                         const AwqOptions& options, double* mean_shrink) {
  if (weight.dim() != 2 || gram.dim() != 2 || gram.size(0) != weight.size(1)) {
    return absl::InvalidArgumentError(
        "awq clip search: weight (out, in) and gram (in, in) do not match");
  }
  return CatchExceptions("awq clip search", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor w = weight.to(at::kFloat).clone();  // (out, in)
    at::Tensor g = gram.to(w.device(), at::kFloat);
    const int64_t out = w.size(0), in = w.size(1);
    const QuantSpec& spec = options.spec;
    const int64_t gs = spec.EffectiveGroupSize(in);
    QuantSpec whole = spec;  // the stored scale dtype too
    whole.group_size = -1;
    const int steps = static_cast<int>(options.max_shrink * options.clip_grid);
    double shrink_sum = 0;
    for (int64_t begin = 0; begin < in; begin += gs) {
      const int64_t len = std::min(gs, in - begin);
      at::Tensor wg = w.narrow(1, begin, len);                           // (out, len) view into w
      at::Tensor gg = g.narrow(0, begin, len).narrow(1, begin, len);     // (len, len)
      at::Tensor lo = at::clamp_max(std::get<0>(wg.min(1, true)), 0.0);  // (out, 1)
      at::Tensor hi = at::clamp_min(std::get<0>(wg.max(1, true)), 0.0);
      at::Tensor best_err = at::full({out}, std::numeric_limits<float>::infinity(), w.options());
      at::Tensor best_f = at::ones({out, 1}, w.options());
      for (int i = 0; i < std::max(steps, 1); ++i) {
        const double f = 1.0 - static_cast<double>(i) / options.clip_grid;
        at::Tensor clipped = at::minimum(at::maximum(wg, lo * f), hi * f);
        at::Tensor d =
            Dequantize(QuantizeGroups(clipped, whole)).to(w.device()) - wg;  // (out, len)
        at::Tensor err = (d.matmul(gg) * d).sum(1);                          // (out)
        at::Tensor better = err < best_err;
        best_err = at::where(better, err, best_err);
        best_f = at::where(better.unsqueeze(1), at::full_like(best_f, f), best_f);
      }
      wg.copy_(at::minimum(at::maximum(wg, lo * best_f), hi * best_f));
      shrink_sum += (1 - best_f).sum().item<double>();
    }
    if (mean_shrink != nullptr) {
      *mean_shrink = shrink_sum / static_cast<double>(out * spec.NumGroups(in));
    }
    return w;
  });
}

namespace {

class AwqMethod : public BlockMethod {
 public:
  AwqMethod(CausalLM& model, const AwqOptions& options, KeepPredicate keep, LayerInstaller install,
            std::vector<LayerRecord>* records)
      : model_(model),
        options_(options),
        keep_(std::move(keep)),
        install_(std::move(install)),
        records_(records) {}

  std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear, InputObserver*) override {
    // One observer per distinct input: the first linear of each group, and linears in no group.
    for (const AwqGroup& group : GroupsOf(linear.layer)) {
      for (size_t k = 0; k < group.linears.size(); ++k) {
        if (group.linears[k].slot != linear.slot) continue;
        if (k > 0) return nullptr;
        bool any_quantized = false;
        for (const NamedLinear& member : group.linears) any_quantized |= !IsKept(member);
        return any_quantized ? NewGram(linear) : nullptr;
      }
    }
    return IsKept(linear) ? nullptr : NewGram(linear);
  }

  absl::Status ProcessStage(CausalLM& model, int layer, const std::vector<NamedLinear>& stage,
                            std::vector<std::unique_ptr<InputObserver>>& observers) override;

 private:
  const std::vector<AwqGroup>& GroupsOf(int layer) {
    if (layer != groups_layer_) {
      groups_ = AwqGroups(model_, layer);
      groups_layer_ = layer;
    }
    return groups_;
  }
  bool IsKept(const NamedLinear& linear) const { return keep_ && keep_(linear.name); }
  std::unique_ptr<InputObserver> NewGram(const NamedLinear& linear) {
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    return std::make_unique<GramObserver>((*linear.slot)->in_features(),
                                          w != nullptr ? w->device() : at::Device(at::kCPU));
  }

  CausalLM& model_;
  AwqOptions options_;
  KeepPredicate keep_;
  LayerInstaller install_;
  std::vector<LayerRecord>* records_;
  std::vector<AwqGroup> groups_;
  int groups_layer_ = -1;
};

absl::Status AwqMethod::ProcessStage(CausalLM& model, int layer,
                                     const std::vector<NamedLinear>& stage,
                                     std::vector<std::unique_ptr<InputObserver>>& observers) {
  using Slot = std::unique_ptr<Linear>*;
  std::map<Slot, GramObserver*> observed;
  for (size_t i = 0; i < stage.size(); ++i) {
    if (observers[i] == nullptr) continue;
    auto* gram = static_cast<GramObserver*>(observers[i].get());
    if (gram->tokens() == 0) {
      return absl::FailedPreconditionError(absl::StrCat("awq ", stage[i].name, ": saw no inputs"));
    }
    observed[stage[i].slot] = gram;
  }
  std::map<Slot, at::Tensor> gram_of;  // (in, in) second moment of each linear's input
  std::map<Slot, LayerRecord> record_of;
  for (const NamedLinear& linear : stage)
    record_of[linear.slot] = {linear.name, layer, "kept", "", 0, {}};

  // 1. Scales, group by group, each folded before the next group is searched.
  for (const AwqGroup& group : GroupsOf(layer)) {
    auto it = observed.find(group.linears.front().slot);
    if (it == observed.end()) continue;  // every member kept
    const auto start = std::chrono::steady_clock::now();
    at::Tensor gram = it->second->Gram();
    std::vector<at::Tensor> weights;
    for (const NamedLinear& member : group.linears) {
      gram_of[member.slot] = gram;  // one tensor shared by the group
      if (IsKept(member)) continue;
      if ((*member.slot)->mutable_dense_weight() == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("awq ", member.name, ": layer is not dense"));
      }
      weights.push_back(DenseFloat(member));
    }
    LLMQ_ASSIGN_OR_RETURN(AwqScaleSearch search,
                          SearchAwqScales(gram, it->second->AbsMean(), weights, options_));
    if (search.alpha > 0) {
      LLMQ_RETURN_IF_ERROR(ApplyAwqScales(group, search.scales));
      at::Tensor s = search.scales.to(gram.device());
      gram.div_(s.unsqueeze(0)).div_(s.unsqueeze(1));  // the inputs are now x / s
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const NamedLinear& member : group.linears) {
      LayerRecord& r = record_of[member.slot];
      r.stats["alpha"] = search.alpha;
      r.stats["scale_loss"] = search.loss;
      r.stats["rtn_loss"] = search.rtn_loss;
      r.seconds += seconds / static_cast<double>(group.linears.size());
    }
  }
  for (const auto& [slot, gram] : observed) {
    if (gram_of.count(slot) == 0) gram_of[slot] = gram->Gram();
  }
  observers.clear();  // frees the accumulators; the grams live on in gram_of

  // 2. Clip search and group-wise RTN of every linear of the stage.
  DecoderBlock& b = model.block(layer);
  for (const NamedLinear& linear : stage) {
    LayerRecord& record = record_of[linear.slot];
    if (!IsKept(linear)) {
      const auto start = std::chrono::steady_clock::now();
      if ((*linear.slot)->mutable_dense_weight() == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("awq ", linear.name, ": layer is not dense"));
      }
      at::Tensor w = DenseFloat(linear);  // (out, in)
      const bool q_or_k = linear.slot == &b.q_proj || linear.slot == &b.k_proj;
      auto gram = gram_of.find(linear.slot);
      if (options_.clip && !q_or_k && gram != gram_of.end()) {
        double shrink = 0;
        LLMQ_ASSIGN_OR_RETURN(w, SearchAwqClip(w, gram->second, options_, &shrink));
        record.stats["clip_shrink"] = shrink;
      }
      LLMQ_RETURN_IF_ERROR(install_(linear, QuantizeGroups(w, options_.spec)));
      record.action = "quantized";
      record.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    record.describe = (*linear.slot)->Describe();
    records_->push_back(record);
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<BlockMethod> MakeAwqMethod(CausalLM& model, const AwqOptions& options,
                                           KeepPredicate keep, LayerInstaller install,
                                           std::vector<LayerRecord>* records) {
  return std::make_unique<AwqMethod>(model, options, std::move(keep), std::move(install), records);
}

}  // namespace llmq
