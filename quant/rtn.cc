#include "quant/rtn.h"

#include <ATen/ATen.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "model/quantized_linear.h"

namespace llmq {

std::vector<std::string> ParseKeepPatterns(absl::string_view csv) {
  std::vector<std::string> patterns;
  for (absl::string_view part : absl::StrSplit(csv, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) patterns.emplace_back(part);
  }
  return patterns;
}

std::vector<NamedLinear> SelectLinears(CausalLM& model, const LayerSelection& selection,
                                       std::vector<std::string>* kept) {
  std::vector<NamedLinear> chosen;
  for (NamedLinear& l : model.Linears()) {
    bool keep = l.layer < 0 && !selection.include_lm_head;
    for (const std::string& pattern : selection.keep) keep = keep || GlobMatch(pattern, l.name);
    if (keep) {
      if (kept != nullptr) kept->push_back(l.name);
    } else {
      chosen.push_back(l);
    }
  }
  return chosen;
}

absl::Status ReplaceWithQuantized(const NamedLinear& linear, const GroupQuantized& q,
                                  at::ScalarType compute_dtype) {
  return CatchExceptions(absl::StrCat("quantizing ", linear.name), [&]() -> absl::Status {
    Linear* old = linear.slot->get();
    at::Tensor* w = old->mutable_dense_weight();
    if (w == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          linear.name, ": holds no dense weight to replace (", old->Describe(), ")"));
    }
    if (q.codes.dim() != 2 || q.codes.size(0) != old->out_features() ||
        q.codes.size(1) != old->in_features()) {
      return absl::InvalidArgumentError(absl::StrCat(
          linear.name, ": codes of shape [", q.codes.size(0), ", ", q.codes.dim() > 1 ? q.codes.size(1) : 0,
          "] for a layer of shape [", old->out_features(), ", ", old->in_features(), "]"));
    }
    at::Tensor scales = q.scales.to(at::kFloat);
    if (!scales.equal(scales.to(QuantizedLinear::kScaleDtype).to(at::kFloat))) {
      return absl::InvalidArgumentError(absl::StrCat(
          linear.name, ": scales are not all float16 values, which the packed layer stores; it "
          "would not hold the weight the codes were computed for (quantize with "
          "QuantSpec::scale_dtype = QuantizedLinear::kScaleDtype)"));
    }
    const at::Device device = w->device();
    auto made = QuantizedLinear::Create(
        q.codes.to(device), q.scales.to(device), q.zeros.to(device),
        q.g_idx.defined() ? q.g_idx.to(device) : at::Tensor(), old->bias(), q.spec.bits,
        q.spec.group_size, compute_dtype);
    if (!made.ok()) return Annotate(made.status(), linear.name);
    *linear.slot = std::move(made).value();
    return absl::OkStatus();
  });
}

absl::StatusOr<QuantizeSummary> QuantizeModelRtn(CausalLM& model, const RtnOptions& options) {
  QuantizeSummary summary;
  QuantSpec spec = options.spec;
  spec.scale_dtype = QuantizedLinear::kScaleDtype;  // what the packed layers store
  for (NamedLinear& l : SelectLinears(model, options.selection, &summary.kept)) {
    at::Tensor* w = (*l.slot)->mutable_dense_weight();
    if (w == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(l.name, ": already quantized (", (*l.slot)->Describe(), ")"));
    }
    summary.linear_bytes_before += (*l.slot)->WeightBytes();
    absl::StatusOr<GroupQuantized> q = CatchExceptions(
        absl::StrCat("RTN ", l.name), [&]() -> absl::StatusOr<GroupQuantized> {
          return QuantizeGroups(*w, spec);
        });
    if (!q.ok()) return q.status();
    LLMQ_RETURN_IF_ERROR(ReplaceWithQuantized(l, *q, model.dtype()));
    summary.linear_bytes_after += (*l.slot)->WeightBytes();
    summary.quantized.push_back(l.name);
  }
  return summary;
}

}  // namespace llmq
