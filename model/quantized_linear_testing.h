// For tests: a QuantizedLinear of random codes and zeros (uniform below 2^bits) and
// scales in [0.001, 0.051), float32 compute dtype, no bias; group_size -1: one group per row.
#ifndef LLMQ_MODEL_QUANTIZED_LINEAR_TESTING_H_
#define LLMQ_MODEL_QUANTIZED_LINEAR_TESTING_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

#include "model/quantized_linear.h"

namespace llmq {

inline std::unique_ptr<QuantizedLinear> RandomQuantizedLinear(int bits, int64_t out, int64_t in,
                                                              int64_t group_size, uint64_t seed) {
  at::manual_seed(seed);
  const int64_t groups = group_size < 0 ? 1 : (in + group_size - 1) / group_size;
  const at::Tensor codes = at::randint(0, 1 << bits, {out, in}, at::kLong).to(at::kByte);
  const at::Tensor scales = at::rand({out, groups}) * 0.05 + 0.001;
  const at::Tensor zeros = at::randint(0, 1 << bits, {out, groups}, at::kLong).to(at::kFloat);
  return QuantizedLinear::Create(codes, scales, zeros, at::Tensor(), at::Tensor(), bits, group_size, at::kFloat)
      .value();
}

}  // namespace llmq

#endif  // LLMQ_MODEL_QUANTIZED_LINEAR_TESTING_H_
