// The GPTQ checkpoint format of AutoGPTQ / GPTQModel / transformers, both ways.
//
// Per quantized linear "X" (W of shape (out, in), `groups` groups):
//   X.qweight (ceil(in * bits / 32), out) int32 — column o holds row o's codes as one
//             little-endian bit stream along the input dimension, 32 bits per word
//             (4-bit: 8 codes per word, code k at bits 4k; 3-bit: 32 codes in 3 words,
//             codes 10 and 21 straddling words). Exactly our byte packing read as int32.
//   X.qzeros  (groups, ceil(out * bits / 32)) int32 — zeros packed the same way along out.
//             checkpoint_format "gptq" (v1) stores zero - 1 (a historical offset of the
//             original kernels); "gptq_v2" stores zero. The v1 offset is applied as
//             GPTQModel does: for 2/4/8 bits by subtracting 0x11111111-style constants
//             from whole words (so zero = 0 borrows, and adding back restores it exactly);
//             for 3 bits per value, modulo 8.
//   X.scales  (groups, out) float16
//   X.g_idx   (in) int32, the group of each input column (column // group_size unless
//             act_order); always written, optional on read.
//   X.bias    (out), if the layer has one.
// The format is described by quantize_config.json and/or config.json's
// "quantization_config" (quant_method "gptq", bits, group_size, desc_act, sym,
// checkpoint_format).
//
// Widths whose in * bits is not a multiple of 32 (stories260K's 172 at 4 bits) are padded
// with zero codes to whole words; llmq reads them back, other tools expect
// in * bits % 32 == 0 and reject such layers.
#ifndef LLMQ_MODEL_GPTQ_CHECKPOINT_H_
#define LLMQ_MODEL_GPTQ_CHECKPOINT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/quantized_linear.h"
#include "model/transformer.h"

namespace llmq {

struct GptqFormat {
  int bits = 4;               // 2, 3, 4 or 8
  int64_t group_size = 128;   // -1: one group per row
  bool desc_act = false;      // act_order: g_idx is not column // group_size
  bool sym = true;
  bool v1_zeros = true;       // checkpoint_format "gptq" (zero - 1) vs "gptq_v2" (zero)
  bool lm_head = false;       // lm_head quantized too
};

// One linear's tensors in GPTQ layout (CPU).
struct GptqTensors {
  at::Tensor qweight;  // (ceil(in * bits / 32), out) int32
  at::Tensor qzeros;   // (groups, ceil(out * bits / 32)) int32
  at::Tensor scales;   // (groups, out) float16
  at::Tensor g_idx;    // (in) int32
};

// The GPTQ tensors of a packed layer. Codes, zeros and scales are carried bit-exactly.
absl::StatusOr<GptqTensors> ToGptqTensors(const QuantizedLinear& layer, bool v1_zeros);

// A packed layer from GPTQ tensors of a (out, in) linear: `bits` and `v1_zeros` from the
// format, group_size from the format (-1 or > 0). A g_idx equal to column // group_size
// is dropped (plain groups take the fast kernels); an absent one means exactly that.
// bias (out) or undefined. Errors name the problem; the caller adds the layer name.
absl::StatusOr<std::unique_ptr<QuantizedLinear>> FromGptqTensors(
    const GptqTensors& tensors, int64_t out, int64_t in, const GptqFormat& format,
    const at::Tensor& bias, at::ScalarType compute_dtype, at::Device device);

// The GPTQ format of the checkpoint in `dir`, from quantize_config.json (preferred) or
// config.json's quantization_config; nullopt when neither says the model is quantized,
// or when it says quant_method "llmq" (llmq's own layers only, model/llmq_checkpoint.h).
// Unimplemented for another quant_method (awq, ...) or checkpoint format (marlin, ...).
absl::StatusOr<std::optional<GptqFormat>> ReadGptqFormat(const std::string& dir);

// Linear `name` stored as GPTQ tensors ("<name>.qweight", ...): its (out, in) shape, in
// from "<name>.g_idx" when present, else from qweight's words (a multiple of 32 / bits).
// (The model is loaded by LoadQuantizedModel, model/llmq_checkpoint.h.)
absl::StatusOr<std::pair<int64_t, int64_t>> GptqLinearShape(const std::string& name, const GptqFormat& format,
                                                            const Checkpoint& checkpoint);

// The packed layer of linear `name` of shape (out, in) from its GPTQ tensors; bias (out)
// or undefined. Errors name the layer.
absl::StatusOr<std::unique_ptr<QuantizedLinear>> LoadGptqLinear(const std::string& name, int64_t out, int64_t in,
                                                                const GptqFormat& format,
                                                                const Checkpoint& checkpoint,
                                                                const at::Tensor& bias,
                                                                at::ScalarType compute_dtype, at::Device device);

}  // namespace llmq

#endif  // LLMQ_MODEL_GPTQ_CHECKPOINT_H_
