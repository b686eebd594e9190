#include "quant/smoothquant.h"

#include <ATen/ATen.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "model/int8_linear.h"
#include "quant/awq.h"

namespace llmq {
namespace {

constexpr double kMinScale = 1e-5;

// max_t |x[t, j]| over every token seen.
class ChannelMaxObserver : public InputObserver {
 public:
  void Observe(const at::Tensor& x) override {
    at::Tensor m = x.reshape({-1, x.size(-1)}).abs().amax({0}).to(at::kCPU, at::kFloat);  // (in)
    max_ = max_.defined() ? at::maximum(max_, m) : m;
  }
  const at::Tensor& max() const { return max_; }

 private:
  at::Tensor max_;  // (in) float32
};

class SmoothQuantMethod : public BlockMethod {
 public:
  SmoothQuantMethod(const SmoothQuantOptions& options, KeepPredicate keep, std::vector<LayerRecord>* records)
      : options_(options), keep_(std::move(keep)), records_(records) {}

  std::unique_ptr<InputObserver> NewObserver(const NamedLinear&, InputObserver*) override {
    return std::make_unique<ChannelMaxObserver>();
  }

  absl::Status ProcessStage(CausalLM& model, int layer, const std::vector<NamedLinear>& stage,
                            std::vector<std::unique_ptr<InputObserver>>& observers) override {
    const auto start = std::chrono::steady_clock::now();
    std::map<std::string, at::Tensor> activation_max;
    for (size_t i = 0; i < stage.size(); ++i) {
      auto* observer = static_cast<ChannelMaxObserver*>(observers[i].get());
      if (observer == nullptr || !observer->max().defined()) {
        return absl::FailedPreconditionError(absl::StrCat("smoothquant ", stage[i].name, ": saw no inputs"));
      }
      activation_max[stage[i].name] = observer->max();
    }
    // A group whose linears all stay in float is not smoothed: kept layers keep their
    // weights exactly (a sensitivity scan's float blocks are the original model's).
    for (const AwqGroup& group : AwqGroups(model, layer)) {
      bool all_kept = !group.linears.empty() && keep_;
      for (const NamedLinear& member : group.linears) all_kept = all_kept && keep_(member.name);
      if (all_kept) activation_max.erase(group.linears.front().name);
    }
    std::map<std::string, std::map<std::string, double>> stats;
    LLMQ_RETURN_IF_ERROR(SmoothBlock(model, layer, activation_max, options_.alpha, &stats));
    Int8Linear::Options int8;
    int8.weight_bits = options_.weight_bits;
    int8.activation_bits = options_.activation_bits;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                           static_cast<double>(std::max<size_t>(1, stage.size()));
    for (const NamedLinear& linear : stage) {
      LayerRecord record{linear.name, layer, "kept", "", seconds, stats[linear.name]};
      if (!(keep_ && keep_(linear.name))) {
        at::Tensor* w = (*linear.slot)->mutable_dense_weight();
        if (w == nullptr) return absl::FailedPreconditionError(absl::StrCat("smoothquant ", linear.name, ": not dense"));
        LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Int8Linear> q,
                              Int8Linear::Create(*w, (*linear.slot)->bias(), int8, w->scalar_type()));
        *linear.slot = std::move(q);
        record.action = "quantized";
      }
      record.describe = (*linear.slot)->Describe();
      records_->push_back(record);
    }
    return absl::OkStatus();
  }

 private:
  SmoothQuantOptions options_;
  KeepPredicate keep_;
  std::vector<LayerRecord>* records_;
};

}  // namespace

at::Tensor SmoothingScales(const at::Tensor& activation_max, const std::vector<at::Tensor>& weights, double alpha) {
  at::Tensor w_max;  // (in)
  for (const at::Tensor& w : weights) {
    at::Tensor m = w.to(at::kCPU, at::kFloat).abs().amax({0});
    w_max = w_max.defined() ? at::maximum(w_max, m) : m;
  }
  at::Tensor a = activation_max.to(at::kCPU, at::kFloat).clamp_min(kMinScale);
  return (a.pow(alpha) / w_max.clamp_min(kMinScale).pow(1 - alpha)).clamp_min(kMinScale);
}

absl::Status SmoothBlock(CausalLM& model, int layer, const std::map<std::string, at::Tensor>& activation_max,
                         double alpha, std::map<std::string, std::map<std::string, double>>* stats) {
  return CatchExceptions(absl::StrCat("smoothquant block ", layer), [&]() -> absl::Status {
    for (const AwqGroup& group : AwqGroups(model, layer)) {
      if (group.prev_norm == nullptr || group.linears.empty()) continue;  // only folds into norms
      auto it = activation_max.find(group.linears.front().name);
      if (it == activation_max.end()) continue;
      std::vector<at::Tensor> weights;
      for (const NamedLinear& member : group.linears) {
        at::Tensor* w = (*member.slot)->mutable_dense_weight();
        if (w == nullptr) return absl::FailedPreconditionError(absl::StrCat(member.name, ": not dense"));
        weights.push_back(*w);
      }
      const at::Tensor s = SmoothingScales(it->second, weights, alpha);
      LLMQ_RETURN_IF_ERROR(ApplyAwqScales(group, s));
      if (stats != nullptr) {
        for (const NamedLinear& member : group.linears) {
          (*stats)[member.name]["smooth_min"] = s.min().item<double>();
          (*stats)[member.name]["smooth_max"] = s.max().item<double>();
          (*stats)[member.name]["act_absmax"] = it->second.max().item<double>();
        }
      }
    }
    return absl::OkStatus();
  });
}

std::unique_ptr<BlockMethod> MakeSmoothQuantMethod(CausalLM&, const SmoothQuantOptions& options, KeepPredicate keep,
                                                   std::vector<LayerRecord>* records) {
  return std::make_unique<SmoothQuantMethod>(options, std::move(keep), records);
}

}  // namespace llmq
