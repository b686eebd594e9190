// GPTQ's inner loop over the columns of one block (quant/gptq.h describes the algorithm);
// used by GptqQuantize, not part of quant/'s public surface.
//
// Rows are independent in this loop — each row quantizes with its own scale and zero and
// propagates its own errors through the shared Hinv — so the CPU kernel runs rows in
// parallel (ParallelFor), each row through all columns of the block with the running
// row segment in a small buffer. The ATen path (any device) does the same column by column
// on whole tensors; both give the same codes up to floating-point rounding.
#ifndef LLMQ_QUANT_GPTQ_BLOCK_H_
#define LLMQ_QUANT_GPTQ_BLOCK_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quant/group_quant.h"

namespace llmq {

struct GptqBlockState {
  QuantSpec spec;
  int64_t group_size = 0;         // effective group size (the row length for group_size -1)
  bool per_group_params = false;  // params taken at group boundaries (else fixed up front)
  std::vector<int64_t> perm;      // natural column of each processed column (act_order + static)
  at::Tensor w;       // (out, in) float32, processed column order; read-only in the loop: the
                      // block-start values, from which group parameters are taken
  at::Tensor hinv;    // (in, in) float32 upper Cholesky factor of H⁻¹
  at::Tensor codes;   // (out, in) uint8, processed column order
  at::Tensor scales;  // (out, groups) float32 holding spec.scale_dtype values; pre-filled
                      // when parameters are fixed
  at::Tensor zeros;   // (out, groups) float32
  at::Tensor loss;    // (out) float64: Σ err² so far
};

// U, upper triangular with a positive diagonal, such that Uᵀ U = (h + damp I)⁻¹ for a
// symmetric h (in, in) that the damping makes positive definite; undefined when it does not
// factorise (or U is not finite). h is not changed.
// Computed as J L⁻¹ J with J h J = L Lᵀ (J reverses the order): L and L⁻¹ together by
// halves, in GEMMs, instead of Cholesky, inverse and Cholesky again.
at::Tensor InverseCholeskyUpper(const at::Tensor& h, double damp = 0);

// Whether every entry of t is finite: by its sum in t's dtype (an inf or nan carries
// through) in one pass, and only where that sum overflows, entry by entry. The n² mask of
// at::isfinite and its all() took ~0.5 s on an 8192² Hessian; a float64 sum, more.
bool AllFinite(const at::Tensor& t);

// Quantizes columns [i1, i1 + count): writes codes (and scales/zeros at group boundaries)
// and returns the scaled errors E (out, count) for the lazy update of later columns.
// `use_aten` forces the device-generic path on CPU tensors.
at::Tensor QuantizeBlockColumns(GptqBlockState& state, int64_t i1, int64_t count, bool use_aten);

}  // namespace llmq

#endif  // LLMQ_QUANT_GPTQ_BLOCK_H_
