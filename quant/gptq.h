// GPTQ (Frantar et al. 2022) for one linear layer, as the reference implementation
// (IST-DASLab/gptq, carried on by AutoGPTQ / GPTQModel) does it:
//   H = 2/n Σ x xᵀ over the n calibration tokens of the layer's input;
//   dead inputs (H_ii = 0): H_ii = 1 and W[:, i] = 0;
//   λ = damp · mean(diag H) added to the diagonal; U = upper Cholesky factor of (H + λI)⁻¹
//   (in float32, as the reference);
//   columns in blocks of `block_size`; per column j: q = quantize(w_j), e = (w_j − q) / U_jj,
//   the rest of the block -= e ⊗ U[j, j+1:]; after the block the later columns -= E · U[block,
//   rest]. Group parameters (scale, zero) are taken from the weight as it stands when the column
//   index hits a group boundary (groups of consecutive columns; the last group is shorter
//   when group_size does not divide in). As in the reference, "as it stands" means with
//   the updates of earlier blocks applied but not those of the current block.
//   act_order: columns in order of decreasing diag(H) (stable sort); the groups are then
//   consecutive in that order and g_idx maps each input column to its group.
//   static_groups: all group parameters computed up front from the (dead-zeroed) weight in
//   natural column order, so under act_order each column keeps the group of its natural
//   position: g_idx = column / group_size, stored as undefined (contiguous).
//   Scales are rounded to spec.scale_dtype as they are computed (quant/group_quant.h), so
//   the error fed back is the error of the weight that is stored: run with the dtype the
//   result will be stored in (float16 for packed layers).
//   When the Cholesky factorisation fails (or yields non-finite values), damp is raised
//   (×damp_growth, from at least 1e-4) and retried, up to max_damp; beyond it the call
//   fails with an error naming the layer. The damp used is reported.
// Pure computation: no model, no I/O. Runs on the weight's device.
#ifndef LLMQ_QUANT_GPTQ_H_
#define LLMQ_QUANT_GPTQ_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/group_quant.h"
#include "quant/layer_driver.h"

namespace llmq {

struct GptqOptions {
  QuantSpec spec;
  double damp = 0.01;  // relative to mean(diag H)
  int64_t block_size = 128;
  bool act_order = false;
  bool static_groups = false;
  double damp_growth = 10.0;
  double max_damp = 1.0;  // the last relative damp tried before giving up
  // Run the column loop with whole-tensor ATen ops even on CPU (where a row-parallel
  // kernel is used by default); for tests comparing the two.
  bool aten_column_loop = false;
  // Blocks per span of the lazy updates: after a block, only the columns to the end of its
  // span are updated; after the span, the columns beyond it, with the span's errors in one
  // product (k = span instead of block_size: the same sums, regrouped). Used only where no
  // group's parameters are read across a span's end (spans a multiple of the group size, or
  // parameters fixed up front), so each column and group sees the weight the reference's
  // schedule gives it. 1 = the reference's schedule; for tests.
  int64_t lazy_span_blocks = 4;
};

struct GptqStats {
  double damp_requested = 0;
  double damp_final = 0;     // relative damp that factorised
  double damp_absolute = 0;  // λ added to the diagonal
  int damp_retries = 0;
  int64_t dead_columns = 0;
  // ½ Σ ((w − q) / U_jj)²: GPTQ's proxy loss, what the reference prints as "error".
  double loss = 0;
  double factor_seconds = 0;   // damped inverse Cholesky (all attempts)
  double columns_seconds = 0;  // the column loop and the lazy updates
};

struct GptqResult {
  GroupQuantized quantized;
  GptqStats stats;
};

// Accumulates Σ xᵀx over calibration tokens. Not thread-safe.
//
// The sum is symmetric, so by default only its upper triangle is computed (as BLAS's SYRK
// does): the columns are cut into tiles of kHessianTile and tile i multiplies x[:, tile i]ᵀ
// by x[:, tile i:], so the products below the diagonal tiles are never formed (about half
// the FLOPs for in >> kHessianTile, with plain GEMMs). Hessian() mirrors the upper
// triangle. `symmetric` = false forms the whole product (the reference, for comparison).
class HessianAccumulator {
 public:
  static constexpr int64_t kHessianTile = 256;

  // `in`: input features; accumulation in float32 (kFloat) or float64 (kDouble) on `device`.
  HessianAccumulator(int64_t in, at::ScalarType accumulate_dtype, at::Device device,
                     bool symmetric = true);
  // x: (..., in) any float dtype; every leading index is one token.
  void Add(const at::Tensor& x);
  int64_t tokens() const { return tokens_; }
  // H = 2/n Σ xᵀx: (in, in) float32. Undefined before any token.
  at::Tensor Hessian() const;
  // Floating-point operations of Add over `tokens` tokens of `in` features.
  static double AddFlops(int64_t tokens, int64_t in, bool symmetric);

 private:
  at::Tensor sum_;  // (in, in) Σ xᵀx; only the upper triangle is valid when symmetric_
  int64_t tokens_ = 0;
  bool symmetric_ = true;
};

// The upper Cholesky factor U of (H + λI)⁻¹ with λ = damp · mean(diag H), raising the
// relative damp as above until it factorises; fills stats' damp fields. h: (in, in)
// float32, dead columns already fixed. Shared with SpQR (quant/spqr.h).
absl::StatusOr<at::Tensor> DampedInverseCholesky(const at::Tensor& h, const GptqOptions& o,
                                                 const std::string& name, GptqStats* stats);

// What GPTQ takes from a Hessian alone, the same for every linear that reads the input it
// came from (q/k/v, gate/up): the dead inputs, act_order's order and U.
struct GptqFactor {
  at::Tensor dead;  // (in) bool: H_ii = 0
  at::Tensor perm;  // (in) int64: act_order's processing order; undefined without act_order
  at::Tensor hinv;  // (in, in) float32 U of the damped H⁻¹, in processing order
  GptqStats stats;  // damp fields, dead_columns, factor_seconds
};

// Factorises `hessian` (in, in) on `device` with options' damping and act_order.
absl::StatusOr<GptqFactor> GptqFactorize(const at::Tensor& hessian, const GptqOptions& options,
                                         at::Device device, const std::string& name = "");

// Quantizes `weight` (out, in) given its input Hessian (in, in), or that Hessian's factor
// (made with the same options). `name` is used in errors.
absl::StatusOr<GptqResult> GptqQuantize(const at::Tensor& weight, const at::Tensor& hessian,
                                        const GptqOptions& options, const std::string& name = "");
absl::StatusOr<GptqResult> GptqQuantize(const at::Tensor& weight, const GptqFactor& factor,
                                        const GptqOptions& options, const std::string& name = "");

// How the GPTQ method gathers its Hessians.
struct GptqHessianOptions {
  at::ScalarType dtype = at::kFloat;  // accumulation dtype
  // One Hessian per distinct input: linears that read the same tensor (q/k/v, gate/up,
  // Phi's q/k/v/fc1; quant/layer_driver.h) share one accumulator. false = one per linear.
  bool share = true;
  bool symmetric = true;  // HessianAccumulator's upper-triangle accumulation
};

// GPTQ under the layer driver: one Hessian and one factor per distinct observed input (on
// the weight's device), then GptqQuantize and `install` for each linear of a stage. Kept
// layers are neither observed nor changed. Appends one record per linear to `records`,
// with stats damp, damp_final, damp_retries, dead_columns, loss, tokens, factor_seconds (0
// for a linear that took the factor of an earlier one) and columns_seconds.
std::unique_ptr<BlockMethod> MakeGptqMethod(const GptqOptions& options, KeepPredicate keep,
                                            LayerInstaller install,
                                            std::vector<LayerRecord>* records,
                                            const GptqHessianOptions& hessian = {});

}  // namespace llmq

#endif  // LLMQ_QUANT_GPTQ_H_
