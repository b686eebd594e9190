#include "quant/w8_swap.h"

#include <chrono>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "quant/rtn.h"

namespace llmq {
namespace {

using MakeLayer = std::function<absl::StatusOr<std::unique_ptr<Linear>>(const at::Tensor& weight, const at::Tensor& bias)>;

absl::Status SwapBlockLinears(CausalLM& model, const std::vector<std::string>& keep, const MakeLayer& make,
                              std::vector<LayerRecord>* records) {
  for (const NamedLinear& linear : model.Linears()) {
    if (linear.layer < 0) continue;  // lm_head stays dense
    bool kept = false;
    for (const std::string& pattern : keep) kept = kept || GlobMatch(pattern, linear.name);
    if (kept) {
      records->push_back({linear.name, linear.layer, "kept", (*linear.slot)->Describe(), 0, {}});
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    if (w == nullptr) return absl::FailedPreconditionError(absl::StrCat(linear.name, ": not a dense layer"));
    LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Linear> q, make(*w, (*linear.slot)->bias()));
    *linear.slot = std::move(q);
    records->push_back({linear.name, linear.layer, "quantized", (*linear.slot)->Describe(),
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), {}});
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status QuantizeModelFp8(CausalLM& model, const Fp8Linear::Options& options,
                              const std::vector<std::string>& keep, std::vector<LayerRecord>* records) {
  return SwapBlockLinears(
      model, keep,
      [&](const at::Tensor& w, const at::Tensor& bias) -> absl::StatusOr<std::unique_ptr<Linear>> {
        LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Fp8Linear> q, Fp8Linear::Create(w, bias, options, w.scalar_type()));
        return std::unique_ptr<Linear>(std::move(q));
      },
      records);
}

absl::Status QuantizeModelLlmInt8(CausalLM& model, double threshold, const std::vector<std::string>& keep,
                                  std::vector<LayerRecord>* records) {
  Int8Linear::Options options;
  options.outlier_threshold = threshold;
  return SwapBlockLinears(
      model, keep,
      [&](const at::Tensor& w, const at::Tensor& bias) -> absl::StatusOr<std::unique_ptr<Linear>> {
        LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Int8Linear> q, Int8Linear::Create(w, bias, options, w.scalar_type()));
        return std::unique_ptr<Linear>(std::move(q));
      },
      records);
}

double OutlierColumnFraction(CausalLM& model, int64_t* columns_seen) {
  int64_t seen = 0, outliers = 0;
  for (const NamedLinear& linear : model.Linears()) {
    const auto* int8 = dynamic_cast<const Int8Linear*>(linear.slot->get());
    if (int8 == nullptr || int8->options().outlier_threshold < 0) continue;
    seen += int8->columns_seen();
    outliers += int8->outlier_columns();
  }
  if (columns_seen != nullptr) *columns_seen = seen;
  return seen > 0 ? static_cast<double>(outliers) / static_cast<double>(seen) : 0.0;
}

}  // namespace llmq
