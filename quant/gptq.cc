#include "quant/gptq.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "quant/gptq_block.h"

namespace llmq {
namespace {

absl::Status CheckOptions(const at::Tensor& weight, const at::Tensor& hessian, const GptqOptions& o,
                          const std::string& name) {
  if (!weight.defined() || !hessian.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("gptq ", name, ": no weight or no Hessian"));
  }
  if (weight.dim() != 2 || hessian.dim() != 2 || hessian.size(0) != weight.size(1) ||
      hessian.size(1) != weight.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gptq ", name, ": weight [", absl::StrJoin(weight.sizes().vec(), ", "), "] and Hessian [",
        absl::StrJoin(hessian.sizes().vec(), ", "), "] do not match"));
  }
  if (o.spec.bits < 2 || o.spec.bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("gptq ", name, ": bits ", o.spec.bits, " not in 2..8"));
  }
  if (o.spec.scale_dtype != at::kFloat && o.spec.scale_dtype != at::kHalf &&
      o.spec.scale_dtype != at::kBFloat16) {
    return absl::InvalidArgumentError(absl::StrCat("gptq ", name, ": scale dtype ",
                                                   c10::toString(o.spec.scale_dtype),
                                                   ": expected float32, float16 or bfloat16"));
  }
  if (o.spec.group_size == 0 || o.spec.group_size < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("gptq ", name, ": group_size ", o.spec.group_size, ": expected -1 or > 0"));
  }
  if (o.block_size <= 0 || !(o.damp >= 0) || !(o.max_damp >= o.damp) || !(o.damp_growth > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gptq ", name, ": block_size ", o.block_size, ", damp ", o.damp, ", max_damp ",
                     o.max_damp, ", damp_growth ", o.damp_growth, " out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<at::Tensor> DampedInverseCholesky(const at::Tensor& h, const GptqOptions& o,
                                                 const std::string& name, GptqStats* stats) {
  const double mean_diag = h.diagonal().mean().item<double>();
  double rel = o.damp;
  stats->damp_requested = o.damp;
  for (;;) {
    at::Tensor upper = InverseCholeskyUpper(h, rel * mean_diag);
    if (upper.defined()) {
      stats->damp_final = rel;
      stats->damp_absolute = rel * mean_diag;
      return upper;
    }
    if (rel >= o.max_damp) {
      return absl::FailedPreconditionError(absl::StrCat(
          "gptq ", name, ": Cholesky factorisation of the damped Hessian failed up to damp ", rel,
          " (mean diag ", mean_diag, "); the calibration inputs of this layer are degenerate"));
    }
    rel = std::min(std::max(rel * o.damp_growth, 1e-4), o.max_damp);
    ++stats->damp_retries;
  }
}

HessianAccumulator::HessianAccumulator(int64_t in, at::ScalarType accumulate_dtype,
                                       at::Device device, bool symmetric)
    : sum_(at::zeros({in, in}, at::TensorOptions().dtype(accumulate_dtype).device(device))),
      symmetric_(symmetric) {}

void HessianAccumulator::Add(const at::Tensor& x) {
  at::Tensor rows = x.reshape({-1, x.size(-1)}).to(sum_.device(), sum_.scalar_type());  // (n, in)
  const int64_t in = rows.size(1);
  if (!symmetric_ || in <= kHessianTile) {
    sum_.addmm_(rows.t(), rows);
  } else {
    for (int64_t i0 = 0; i0 < in; i0 += kHessianTile) {
      const int64_t t = std::min(kHessianTile, in - i0);
      // S[tile, i0:] += x[:, tile]ᵀ (t, n) · x[:, i0:] (n, in - i0)
      sum_.narrow(0, i0, t).narrow(1, i0, in - i0)
          .addmm_(rows.narrow(1, i0, t).t(), rows.narrow(1, i0, in - i0));
    }
  }
  tokens_ += rows.size(0);
}

at::Tensor HessianAccumulator::Hessian() const {
  if (tokens_ == 0) return at::Tensor();
  at::Tensor h = (sum_ * (2.0 / static_cast<double>(tokens_))).to(at::kFloat);
  const int64_t in = h.size(0);
  if (symmetric_ && in > kHessianTile) {
    // The lower triangle from the upper, tile row by tile row, in place: below the diagonal
    // tiles from the panel above them, inside a diagonal tile from its own upper part (as a
    // whole-matrix triu + triu(1)ᵀ would, without its four n² temporaries).
    for (int64_t i0 = 0; i0 < in; i0 += kHessianTile) {
      const int64_t t = std::min(kHessianTile, in - i0);
      at::Tensor diagonal = h.narrow(0, i0, t).narrow(1, i0, t);
      diagonal.copy_(diagonal.triu() + diagonal.triu(1).t());
      if (i0 > 0) h.narrow(0, i0, t).narrow(1, 0, i0).copy_(h.narrow(0, 0, i0).narrow(1, i0, t).t());
    }
  }
  return h;
}

double HessianAccumulator::AddFlops(int64_t tokens, int64_t in, bool symmetric) {
  const double n = static_cast<double>(tokens);
  if (!symmetric || in <= kHessianTile) return 2.0 * n * in * in;
  double flops = 0;
  for (int64_t i0 = 0; i0 < in; i0 += kHessianTile) {
    flops += 2.0 * n * std::min(kHessianTile, in - i0) * (in - i0);
  }
  return flops;
}

absl::StatusOr<GptqFactor> GptqFactorize(const at::Tensor& hessian, const GptqOptions& options,
                                         at::Device device, const std::string& name) {
  return CatchExceptions(absl::StrCat("gptq ", name), [&]() -> absl::StatusOr<GptqFactor> {
    const auto start = std::chrono::steady_clock::now();
    GptqFactor factor;
    at::Tensor h = hessian.to(device, at::kFloat).clone();  // (in, in), fp32 as the reference
    if (!AllFinite(h)) {
      return absl::InvalidArgumentError(absl::StrCat("gptq ", name, ": Hessian is not finite"));
    }
    factor.dead = h.diagonal() == 0;  // (in) bool
    factor.stats.dead_columns = factor.dead.sum().item<int64_t>();
    h.diagonal().masked_fill_(factor.dead, 1.0);
    if (options.act_order) {
      factor.perm = std::get<1>(at::sort(h.diagonal(), /*stable=*/true, /*dim=*/0, /*descending=*/true));
      h = h.index_select(0, factor.perm).index_select(1, factor.perm);
    }
    LLMQ_ASSIGN_OR_RETURN(at::Tensor u, DampedInverseCholesky(h, options, name, &factor.stats));
    factor.hinv = u.to(at::kFloat).contiguous();
    factor.stats.factor_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return factor;
  });
}

absl::StatusOr<GptqResult> GptqQuantize(const at::Tensor& weight, const at::Tensor& hessian,
                                        const GptqOptions& options, const std::string& name) {
  LLMQ_RETURN_IF_ERROR(CheckOptions(weight, hessian, options, name));
  LLMQ_ASSIGN_OR_RETURN(GptqFactor factor, GptqFactorize(hessian, options, weight.device(), name));
  return GptqQuantize(weight, factor, options, name);
}

absl::StatusOr<GptqResult> GptqQuantize(const at::Tensor& weight, const GptqFactor& factor,
                                        const GptqOptions& options, const std::string& name) {
  LLMQ_RETURN_IF_ERROR(CheckOptions(weight, factor.hinv, options, name));
  return CatchExceptions(absl::StrCat("gptq ", name), [&]() -> absl::StatusOr<GptqResult> {
    const QuantSpec& spec = options.spec;
    const int64_t out = weight.size(0), in = weight.size(1);
    const int64_t gs = spec.EffectiveGroupSize(in), num_groups = spec.NumGroups(in);
    const bool grouped = spec.group_size > 0;
    GptqResult result;
    GptqStats& stats = result.stats;
    stats = factor.stats;

    at::Tensor w = weight.to(at::kFloat).clone();  // (out, in)
    w.masked_fill_(factor.dead.to(w.device()).unsqueeze(0), 0.0);
    at::Tensor perm, invperm;  // (in) int64
    if (options.act_order) {
      perm = factor.perm.to(w.device());
      invperm = at::argsort(perm);
    }

    GptqBlockState state;
    state.spec = spec;
    state.group_size = gs;
    state.per_group_params = grouped && !options.static_groups;
    state.scales = at::zeros({out, num_groups}, w.options());  // (out, groups)
    state.zeros = at::zeros({out, num_groups}, w.options());
    if (!state.per_group_params) {
      // Fixed before any update, from contiguous natural column ranges: the whole row, or
      // every group (static groups).
      GroupQuantized fixed = QuantizeGroups(w, spec);
      state.scales.copy_(fixed.scales);
      state.zeros.copy_(fixed.zeros);
      if (options.act_order) {
        at::Tensor p = perm.cpu();
        state.perm.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + in);
      }
    }
    if (options.act_order) w = w.index_select(1, perm);

    auto start = std::chrono::steady_clock::now();
    auto seconds_since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    state.hinv = factor.hinv.to(w.device());  // (in, in) upper triangular, read only
    state.w = w.contiguous();  // (out, in), lazily updated after each block
    state.codes = at::empty({out, in}, w.options().dtype(at::kByte));
    state.loss = at::zeros({out}, w.options().dtype(at::kDouble));
    // Lazy updates W[:, after] -= E (out, count) · Hinv[block, after] at two levels (see
    // GptqOptions::lazy_span_blocks): after each block to the end of its span, after each
    // span beyond it. Group parameters read a group's columns when the loop reaches its
    // first one; spans a multiple of the group size never end inside a group.
    int64_t span = std::max<int64_t>(1, options.lazy_span_blocks) * options.block_size;
    if (state.per_group_params && span % gs != 0) span = options.block_size;
    at::Tensor span_errors = at::empty({out, std::min(span, in)}, w.options());
    for (int64_t s1 = 0; s1 < in; s1 += span) {
      const int64_t s2 = std::min(in, s1 + span);
      for (int64_t i1 = s1; i1 < s2; i1 += options.block_size) {
        const int64_t count = std::min(options.block_size, s2 - i1), inside = s2 - i1 - count;
        at::Tensor errors = QuantizeBlockColumns(state, i1, count, options.aten_column_loop);
        span_errors.narrow(1, i1 - s1, count).copy_(errors);
        if (inside > 0) {
          state.w.narrow(1, i1 + count, inside)
              .addmm_(errors, state.hinv.narrow(0, i1, count).narrow(1, i1 + count, inside),
                      /*beta=*/1, /*alpha=*/-1);
        }
      }
      if (s2 < in) {
        state.w.narrow(1, s2, in - s2)
            .addmm_(span_errors.narrow(1, 0, s2 - s1), state.hinv.narrow(0, s1, s2 - s1).narrow(1, s2, in - s2),
                    /*beta=*/1, /*alpha=*/-1);
      }
    }
    stats.loss = 0.5 * state.loss.sum().item<double>();
    stats.columns_seconds = seconds_since(start);

    GroupQuantized& gq = result.quantized;
    gq.spec = spec;
    at::Tensor codes = options.act_order ? state.codes.index_select(1, invperm) : state.codes;
    gq.codes = codes.contiguous().cpu();  // (out, in) uint8, natural column order
    gq.scales = state.scales.cpu();       // (out, groups)
    gq.zeros = state.zeros.cpu();
    if (options.act_order && grouped && !options.static_groups) {
      gq.g_idx = at::div(invperm, gs, "floor").to(at::kInt).cpu();  // (in): group of each column
    }
    if (!at::isfinite(gq.scales).all().item<bool>()) {
      return absl::InternalError(absl::StrCat("gptq ", name, ": non-finite group scales"));
    }
    return result;
  });
}

namespace {

// One accumulator per distinct input; the observers of linears that read the same tensor
// hold the same SharedHessian, and only the first of them adds.
struct SharedHessian {
  SharedHessian(int64_t in, at::ScalarType dtype, at::Device device, bool symmetric)
      : accumulator(in, dtype, device, symmetric) {}
  HessianAccumulator accumulator;
  GptqFactor factor;  // from the accumulated Hessian, once, for the first linear processed
};

class HessianObserver : public InputObserver {
 public:
  HessianObserver(std::shared_ptr<SharedHessian> shared, bool adds)
      : shared_(std::move(shared)), adds_(adds) {}
  void Observe(const at::Tensor& x) override {
    if (adds_) shared_->accumulator.Add(x);
  }
  const std::shared_ptr<SharedHessian>& shared() const { return shared_; }

 private:
  std::shared_ptr<SharedHessian> shared_;
  bool adds_;
};

class GptqMethod : public BlockMethod {
 public:
  GptqMethod(const GptqOptions& options, KeepPredicate keep, LayerInstaller install,
             std::vector<LayerRecord>* records, const GptqHessianOptions& hessian)
      : options_(options),
        keep_(std::move(keep)),
        install_(std::move(install)),
        records_(records),
        hessian_(hessian) {}

  std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear,
                                             InputObserver* same_input) override {
    if (keep_ && keep_(linear.name)) return nullptr;
    if (hessian_.share && same_input != nullptr) {
      auto* first = dynamic_cast<HessianObserver*>(same_input);
      if (first != nullptr) {
        return std::make_unique<HessianObserver>(first->shared(), /*adds=*/false);
      }
    }
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    const at::Device device = w != nullptr ? w->device() : at::Device(at::kCPU);
    return std::make_unique<HessianObserver>(
        std::make_shared<SharedHessian>((*linear.slot)->in_features(), hessian_.dtype, device,
                                        hessian_.symmetric),
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
            "gptq ", linear.name, ": layer is not dense (", (*linear.slot)->Describe(), ")"));
      }
      SharedHessian& shared = *static_cast<HessianObserver*>(observers[i].get())->shared();
      const int64_t tokens = shared.accumulator.tokens();
      if (tokens == 0) {
        return absl::FailedPreconditionError(absl::StrCat("gptq ", linear.name, ": saw no inputs"));
      }
      const bool factored_before = shared.factor.hinv.defined();
      if (!factored_before) {
        LLMQ_ASSIGN_OR_RETURN(shared.factor, GptqFactorize(shared.accumulator.Hessian(), options_,
                                                           w->device(), linear.name));
      }
      LLMQ_ASSIGN_OR_RETURN(GptqResult result,
                            GptqQuantize(*w, shared.factor, options_, linear.name));
      if (factored_before) result.stats.factor_seconds = 0;  // counted for the first linear
      observers[i].reset();  // the last linear of an input frees its accumulator and factor
      LLMQ_RETURN_IF_ERROR(install_(linear, result.quantized));
      record.action = "quantized";
      record.describe = (*linear.slot)->Describe();
      record.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      record.stats = {{"damp", result.stats.damp_requested},
                      {"damp_final", result.stats.damp_final},
                      {"damp_retries", result.stats.damp_retries},
                      {"dead_columns", static_cast<double>(result.stats.dead_columns)},
                      {"loss", result.stats.loss},
                      {"tokens", static_cast<double>(tokens)},
                      {"factor_seconds", result.stats.factor_seconds},
                      {"columns_seconds", result.stats.columns_seconds}};
      records_->push_back(record);
    }
    return absl::OkStatus();
  }

 private:
  GptqOptions options_;
  KeepPredicate keep_;
  LayerInstaller install_;
  std::vector<LayerRecord>* records_;
  GptqHessianOptions hessian_;
};

}  // namespace

std::unique_ptr<BlockMethod> MakeGptqMethod(const GptqOptions& options, KeepPredicate keep,
                                            LayerInstaller install,
                                            std::vector<LayerRecord>* records,
                                            const GptqHessianOptions& hessian) {
  return std::make_unique<GptqMethod>(options, std::move(keep), std::move(install), records,
                                      hessian);
}

}  // namespace llmq
