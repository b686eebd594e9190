#include "quant/spqr.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "quant/gptq.h"

namespace llmq {
namespace {

// Second-level quantization of one group column of statistics v (out) in groups of `beta`
// rows (quant/spqr.h): writes codes (out) uint8, lo and step (row_groups) and returns the
// dequantized statistics (out), as the layer will compute them.
at::Tensor QuantizeStatistic(const at::Tensor& v, int64_t beta, int bits, float min_value,
                             at::Tensor codes, at::Tensor lo, at::Tensor step) {
  const int64_t out = v.size(0), row_groups = lo.size(0), pad = row_groups * beta - out;
  at::Tensor padded = pad > 0 ? at::cat({v, v.narrow(0, out - 1, 1).expand({pad})}) : v;
  at::Tensor rows = padded.view({row_groups, beta});  // (row_groups, beta)
  const double max_code = static_cast<double>((int64_t{1} << bits) - 1);
  at::Tensor vlo = std::get<0>(rows.min(1));
  at::Tensor vhi = std::get<0>(rows.max(1));
  lo.copy_(vlo.to(at::kHalf).to(at::kFloat));
  step.copy_(((vhi - vlo) / max_code).to(at::kHalf).to(at::kFloat));
  at::Tensor lo_rows = lo.repeat_interleave(beta).narrow(0, 0, out);
  at::Tensor step_rows = step.repeat_interleave(beta).narrow(0, 0, out);
  at::Tensor c = at::where(step_rows > 0,
                           at::clamp(at::round((v - lo_rows) / step_rows), 0, max_code),
                           at::zeros_like(v));
  codes.copy_(c);
  return SpqrStatistic(codes.unsqueeze(1), lo.unsqueeze(1), step.unsqueeze(1), beta, min_value)
      .squeeze(1);
}

// First-level range per row of `seg` (rows, len): lo = min(min, 0), hi = max(max, 0), and
// (-1, 1) for an all-zero row.
void FirstLevelRange(const at::Tensor& seg, at::Tensor* lo, at::Tensor* hi) {
  *lo = at::clamp_max(std::get<0>(seg.min(-1)), 0);
  *hi = at::clamp_min(std::get<0>(seg.max(-1)), 0);
  at::Tensor flat = (*lo == 0) & (*hi == 0);
  lo->masked_fill_(flat, -1.0);
  hi->masked_fill_(flat, 1.0);
}

// Σ_k ((v − v') / d_k)² over the last dimension, v' = v quantized with the first-level
// statistics of its own range (unquantized; only for ranking candidates).
at::Tensor RangeError(const at::Tensor& v, const at::Tensor& d, double max_code) {
  at::Tensor lo, hi;
  FirstLevelRange(v, &lo, &hi);
  at::Tensor scale = ((hi - lo) / max_code).unsqueeze(-1);
  at::Tensor zero = -lo.unsqueeze(-1) / scale;
  at::Tensor q = at::clamp(at::round(v / scale + zero), 0, max_code);
  return ((v - scale * (q - zero)) / d).square().sum(-1);
}

// The weights of a group the statistics are fitted on (quant/spqr.h): a weight whose
// leave-one-out reduction of the group's scaled error, error(all) − error(all but it),
// exceeds `threshold` is a likely outlier and is replaced by the mean of the row's other
// weights, so that it does not stretch the range. seg (rows, len), d (len) = U_jj.
at::Tensor WithoutLikelyOutliers(const at::Tensor& seg, const at::Tensor& d, double max_code,
                                 double threshold) {
  const int64_t len = seg.size(1);
  if (std::isinf(threshold) || len < 2) return seg;
  // others[k] = the len - 1 positions other than k, in order.
  at::Tensor idx = at::arange(len, seg.options().dtype(at::kLong));
  at::Tensor others = idx.narrow(0, 1, len - 1).unsqueeze(0) -
                      (idx.unsqueeze(1) >= idx.narrow(0, 1, len - 1).unsqueeze(0)).to(at::kLong);
  at::Tensor loo = seg.index_select(1, others.reshape({-1})).view({seg.size(0), len, len - 1});
  at::Tensor loo_error = RangeError(loo, d.index_select(0, others.reshape({-1})).view({len, len - 1}),
                                    max_code);                                 // (rows, len)
  at::Tensor base_error = RangeError(seg, d, max_code).unsqueeze(1);            // (rows, 1)
  at::Tensor likely = (base_error - loo_error) > threshold;                    // (rows, len)
  at::Tensor inliers = (~likely).to(seg.scalar_type());
  at::Tensor mean = (seg * inliers).sum(1, true) / inliers.sum(1, true).clamp_min(1);
  return at::where(likely, mean.expand_as(seg), seg);
}

absl::Status CheckOptions(const at::Tensor& weight, const at::Tensor& hessian, const SpqrOptions& o,
                          const std::string& name) {
  if (!weight.defined() || !hessian.defined() || weight.dim() != 2 || weight.size(0) < 1 ||
      hessian.dim() != 2 || hessian.size(0) != weight.size(1) ||
      hessian.size(1) != weight.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spqr ", name, ": weight ", weight.defined() ? absl::StrJoin(weight.sizes(), "x") : "-",
        " and Hessian ", hessian.defined() ? absl::StrJoin(hessian.sizes(), "x") : "-",
        " do not match"));
  }
  if (o.bits < 2 || o.bits > 8 || o.scale_bits < 2 || o.scale_bits > 8 || o.group_size < 1 ||
      o.block_size < 1 || !(o.outlier_threshold >= 0) || !(o.damp >= 0 && o.damp <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spqr ", name, ": bits ", o.bits, " (2..8), scale_bits ", o.scale_bits,
        " (2..8), group_size ", o.group_size, " (>= 1), block_size ", o.block_size,
        " (>= 1), outlier_threshold ", o.outlier_threshold, " (>= 0), damp ", o.damp,
        " ([0, 1]): out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SpqrResult> SpqrQuantize(const at::Tensor& weight, const at::Tensor& hessian,
                                        const SpqrOptions& options, const std::string& name) {
  LLMQ_RETURN_IF_ERROR(CheckOptions(weight, hessian, options, name));
  return CatchExceptions(absl::StrCat("spqr ", name), [&]() -> absl::StatusOr<SpqrResult> {
    const int64_t out = weight.size(0), in = weight.size(1), gs = options.group_size;
    const int64_t groups = (in + gs - 1) / gs, row_groups = (out + gs - 1) / gs;
    const double max_code = static_cast<double>((int64_t{1} << options.bits) - 1);
    at::Tensor h = hessian.to(weight.device(), at::kFloat).clone();  // (in, in)
    if (!at::isfinite(h).all().item<bool>()) {
      return absl::InvalidArgumentError(absl::StrCat("spqr ", name, ": Hessian is not finite"));
    }
    at::Tensor w = weight.to(at::kFloat).clone();  // (out, in), updated in place
    at::Tensor dead = h.diagonal() == 0;           // (in)
    h.diagonal().masked_fill_(dead, 1.0);
    w.masked_fill_(dead.unsqueeze(0), 0.0);

    GptqOptions gptq;
    gptq.damp = options.damp;
    GptqStats damp_stats;
    LLMQ_ASSIGN_OR_RETURN(at::Tensor u, DampedInverseCholesky(h, gptq, name, &damp_stats));
    u = u.contiguous();                               // (in, in) upper
    at::Tensor diag_t = u.diagonal().cpu().contiguous();  // (in)
    const float* diag = diag_t.data_ptr<float>();

    SpqrResult result;
    result.damp_final = damp_stats.damp_final;
    if (std::isinf(options.outlier_threshold)) {
      result.threshold = std::numeric_limits<double>::infinity();
    } else {
      const double variance_scale =
          (at::var(w, 0, /*unbiased=*/out > 1) / u.diagonal().square()).mean().item<double>();
      result.threshold = options.outlier_threshold * variance_scale;
    }
    const at::TensorOptions f32 = w.options();
    SpqrParts& p = result.parts;
    p.bits = options.bits;
    p.scale_bits = options.scale_bits;
    p.group_size = gs;
    p.codes = at::zeros({out, in}, f32.dtype(at::kByte));
    p.scale_codes = at::zeros({out, groups}, f32.dtype(at::kByte));
    p.zero_codes = at::zeros({out, groups}, f32.dtype(at::kByte));
    for (at::Tensor* t : {&p.scale_lo, &p.scale_step, &p.zero_lo, &p.zero_step}) {
      *t = at::zeros({row_groups, groups}, f32);
    }
    p.outlier_mask = at::zeros({out, in}, f32.dtype(at::kBool));
    p.outlier_values = at::zeros({out, in}, f32);
    at::Tensor loss = at::zeros({out}, f32);
    at::Tensor scale_hat, zero_hat;  // (out): the current group's dequantized statistics

    for (int64_t b1 = 0; b1 < in; b1 += options.block_size) {
      const int64_t count = std::min(options.block_size, in - b1), rest = in - b1 - count;
      at::Tensor errors = at::empty({out, count}, f32);  // (out, count)
      for (int64_t i = 0; i < count; ++i) {
        const int64_t col = b1 + i;
        if (col % gs == 0) {
          const int64_t g = col / gs;
          const int64_t len = std::min(gs, in - col);
          at::Tensor seg = w.narrow(1, col, len);  // (out, len)
          at::Tensor fit = WithoutLikelyOutliers(seg, diag_t.narrow(0, col, len).to(seg.device()),
                                                 max_code, result.threshold);
          at::Tensor lo, hi;
          FirstLevelRange(fit, &lo, &hi);
          at::Tensor scale = (hi - lo) / max_code;
          at::Tensor zero = -lo / scale;
          scale_hat = QuantizeStatistic(scale, gs, options.scale_bits, kMinSpqrScale,
                                        p.scale_codes.select(1, g), p.scale_lo.select(1, g),
                                        p.scale_step.select(1, g));
          zero_hat = QuantizeStatistic(zero, gs, options.scale_bits,
                                       std::numeric_limits<float>::lowest(),
                                       p.zero_codes.select(1, g), p.zero_lo.select(1, g),
                                       p.zero_step.select(1, g));
        }
        at::Tensor x = w.select(1, col).clone();  // (out)
        at::Tensor q = at::clamp(at::round(x / scale_hat + zero_hat), 0, max_code);
        at::Tensor kept = x.to(at::kHalf).to(at::kFloat);
        at::Tensor err = (x - scale_hat * (q - zero_hat)) / diag[col];
        at::Tensor outlier = err.square() > result.threshold;
        err = at::where(outlier, (x - kept) / diag[col], err);
        p.codes.select(1, col).copy_(q);
        p.outlier_mask.select(1, col).copy_(outlier);
        p.outlier_values.select(1, col).copy_(kept);
        loss.addcmul_(err, err);
        errors.select(1, i).copy_(err);
        if (i + 1 < count) {
          w.narrow(1, col + 1, count - i - 1)
              .addr_(err, u[col].narrow(0, col + 1, count - i - 1), /*beta=*/1, /*alpha=*/-1);
        }
      }
      if (rest > 0) {
        // W[:, after] -= E (out, count) · U[block, after] (count, rest)
        w.narrow(1, b1 + count, rest)
            .addmm_(errors, u.narrow(0, b1, count).narrow(1, b1 + count, rest), 1, -1);
      }
    }
    result.outliers = p.outlier_mask.sum().item<int64_t>();
    result.loss = 0.5 * loss.sum().item<double>();
    return result;
  });
}

namespace {

// One accumulator per distinct input: linears that read the same tensor (q/k/v, gate/up)
// share the first one's, and only that one adds.
class SpqrHessianObserver : public InputObserver {
 public:
  SpqrHessianObserver(std::shared_ptr<HessianAccumulator> hessian, bool adds)
      : hessian_(std::move(hessian)), adds_(adds) {}
  void Observe(const at::Tensor& x) override {
    if (adds_) hessian_->Add(x);
  }
  const std::shared_ptr<HessianAccumulator>& shared() const { return hessian_; }
  const HessianAccumulator& hessian() const { return *hessian_; }

 private:
  std::shared_ptr<HessianAccumulator> hessian_;
  bool adds_;
};

class SpqrMethod : public BlockMethod {
 public:
  SpqrMethod(const SpqrOptions& options, KeepPredicate keep, at::ScalarType compute_dtype,
             std::vector<LayerRecord>* records)
      : options_(options), keep_(std::move(keep)), dtype_(compute_dtype), records_(records) {}

  std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear,
                                             InputObserver* same_input) override {
    if (keep_ && keep_(linear.name)) return nullptr;
    if (same_input != nullptr) {
      return std::make_unique<SpqrHessianObserver>(
          static_cast<SpqrHessianObserver*>(same_input)->shared(), /*adds=*/false);
    }
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    const at::Device device = w != nullptr ? w->device() : at::Device(at::kCPU);
    return std::make_unique<SpqrHessianObserver>(
        std::make_shared<HessianAccumulator>((*linear.slot)->in_features(), at::kFloat, device),
        /*adds=*/true);
  }

  absl::Status ProcessStage(CausalLM&, int layer, const std::vector<NamedLinear>& stage,
                            std::vector<std::unique_ptr<InputObserver>>& observers) override {
    for (size_t i = 0; i < stage.size(); ++i) {
      const NamedLinear& linear = stage[i];
      LayerRecord record{linear.name, layer, "kept", "", 0, {}};
      if (observers[i] == nullptr) {
        record.describe = (*linear.slot)->Describe();
        records_->push_back(record);
        continue;
      }
      const auto start = std::chrono::steady_clock::now();
      at::Tensor* w = (*linear.slot)->mutable_dense_weight();
      if (w == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "spqr ", linear.name, ": layer is not dense (", (*linear.slot)->Describe(), ")"));
      }
      const auto& acc = static_cast<SpqrHessianObserver*>(observers[i].get())->hessian();
      if (acc.tokens() == 0) {
        return absl::FailedPreconditionError(absl::StrCat("spqr ", linear.name, ": saw no inputs"));
      }
      const double tokens = static_cast<double>(acc.tokens());
      const double weights = static_cast<double>((*linear.slot)->ParameterCount());
      LLMQ_ASSIGN_OR_RETURN(SpqrResult result,
                            SpqrQuantize(*w, acc.Hessian(), options_, linear.name));
      observers[i].reset();
      result.parts.bias = (*linear.slot)->bias();
      LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<SpqrLinear> q, SpqrLinear::Create(result.parts, dtype_));
      *linear.slot = std::move(q);
      record.action = "quantized";
      record.describe = (*linear.slot)->Describe();
      record.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      record.stats = {{"outliers", static_cast<double>(result.outliers)},
                      {"outlier_fraction", static_cast<double>(result.outliers) / weights},
                      {"weights", weights},
                      {"loss", result.loss},
                      {"damp", options_.damp},
                      {"damp_final", result.damp_final},
                      {"tokens", tokens}};
      records_->push_back(record);
    }
    return absl::OkStatus();
  }

 private:
  SpqrOptions options_;
  KeepPredicate keep_;
  at::ScalarType dtype_;
  std::vector<LayerRecord>* records_;
};

}  // namespace

std::unique_ptr<BlockMethod> MakeSpqrMethod(const SpqrOptions& options, KeepPredicate keep,
                                            at::ScalarType compute_dtype,
                                            std::vector<LayerRecord>* records) {
  return std::make_unique<SpqrMethod>(options, std::move(keep), compute_dtype, records);
}

}  // namespace llmq
