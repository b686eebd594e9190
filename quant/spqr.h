// SpQR (Dettmers et al. 2023, arXiv 2306.03078) for one linear layer, in the storage format
// of model/spqr_linear.h. With b = bits, β = group_size, c = scale_bits:
//   H, dead inputs and the damped upper Cholesky factor U of H⁻¹ exactly as GPTQ
//   (quant/gptq.h, DampedInverseCholesky); columns in natural order, in blocks of
//   `block_size`, GPTQ's error feedback within and after each block.
//   When column j starts a group (j % β == 0), the group's first-level statistics are taken
//   for every row from the weight as it stands (all earlier updates applied), after likely
//   outliers are set aside as the reference does: a weight whose removal reduces the row
//   group's scaled error Σ ((w − w') / U_kk)² by more than the threshold below is replaced,
//   for fitting only, by the mean of the row group's other weights. Then
//     lo = min(min(w), 0), hi = max(max(w), 0) (lo = −1, hi = 1 for an all-zero group),
//     scale = (hi − lo) / (2^b − 1), zero = −lo / scale (not rounded);
//   then quantized in second-level groups of β consecutive rows, scales and zeros apart:
//     per row group, vlo = min v, step = (max v − vlo) / (2^c − 1), both rounded to float16;
//     code = clamp(round((v − vlo) / step), 0, 2^c − 1) (0 when step = 0);
//     v̂ = vlo + code · step (SpqrStatistic; a scale at least 2^-24).
//   Per column, with ŝ, ẑ the dequantized statistics of its group:
//     q = clamp(round(w / ŝ + ẑ), 0, 2^b − 1), w' = ŝ · (q − ẑ), e = (w − w') / U_jj;
//     w is an outlier when e² > τ · mean_j(var_r(W[r, j]) / U_jj²) — τ = outlier_threshold
//     relative to the layer's mean scaled weight variance (the SpQR reference's definition,
//     taken on the dead-zeroed W before any update; var with Bessel's correction). An outlier
//     keeps float16(w): w' = float16(w), and e is recomputed from it.
//   τ = 0 makes every weight that its code does not reproduce exactly an outlier; τ = ∞
//   none (then, with H = I, the result is the plain two-level group quantizer).
// Simplifications against the reference, said here so a reader comparing numbers knows:
// no act_order permutation, zeros not rounded and quantized like the scales, the
// second-level groups share β with the first level (the paper's β1 = β2 = 16).
// Pure computation: no model, no I/O.
#ifndef LLMQ_QUANT_SPQR_H_
#define LLMQ_QUANT_SPQR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/spqr_linear.h"
#include "quant/layer_driver.h"

namespace llmq {

struct SpqrOptions {
  int bits = 3;             // 2..8
  int64_t group_size = 16;  // β, ≥ 1
  int scale_bits = 3;       // c, 2..8
  double outlier_threshold = 0.2;  // τ ≥ 0 (infinity allowed)
  double damp = 0.01;       // relative, as GPTQ
  int64_t block_size = 128;
};

struct SpqrResult {
  SpqrParts parts;  // bias left undefined
  int64_t outliers = 0;
  double loss = 0;            // ½ Σ e², GPTQ's proxy loss
  double damp_final = 0;
  double threshold = 0;       // the absolute threshold on e² that was applied
};

// Quantizes `weight` (out, in) given its input Hessian (in, in). `name` is used in errors.
absl::StatusOr<SpqrResult> SpqrQuantize(const at::Tensor& weight, const at::Tensor& hessian,
                                        const SpqrOptions& options, const std::string& name = "");

// SpQR under the layer driver: one Hessian per observed linear, then SpqrQuantize and a
// SpqrLinear (computing in `compute_dtype`) in the slot, keeping its bias. Kept layers are
// neither observed nor changed. One record per linear, stats outliers, outlier_fraction,
// weights, loss, damp, damp_final, tokens.
std::unique_ptr<BlockMethod> MakeSpqrMethod(const SpqrOptions& options, KeepPredicate keep,
                                            at::ScalarType compute_dtype,
                                            std::vector<LayerRecord>* records);

}  // namespace llmq

#endif  // LLMQ_QUANT_SPQR_H_
