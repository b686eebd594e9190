// Dense matrix-vector products for one input row (decode at batch 1), where a BLAS GEMV
// is far from the memory bandwidth (Debian's OpenBLAS sgemv: ~6x off on 2 cores): each
// weight byte is read once, streamed by AVX-512 or AVX2 (chosen at run time, portable
// loop otherwise), output rows split over ParallelFor (model/parallel.h). Accumulates in float32.
#ifndef LLMQ_MODEL_GEMV_H_
#define LLMQ_MODEL_GEMV_H_

#include <c10/util/BFloat16.h>

#include <cstdint>

namespace llmq {

// y (out) = W (out, in) x (in), all contiguous.
void DenseGemv(const float* w, const float* x, int64_t out, int64_t in, float* y);
// The same with bfloat16 W and x, products and sums in float32.
void DenseGemv(const c10::BFloat16* w, const c10::BFloat16* x, int64_t out, int64_t in, float* y);

}  // namespace llmq

#endif  // LLMQ_MODEL_GEMV_H_
