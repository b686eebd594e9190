// Writes a quantized model as a GPTQ-format checkpoint directory (layout:
// model/gptq_checkpoint.h) that llmq's LoadModel reads back bit-exactly and that
// GPTQModel / transformers read where the format allows:
//   model.safetensors      packed linears (qweight, qzeros, scales, g_idx, bias) and every
//                          other tensor as the model holds it (embeddings, norms, layers
//                          kept dense), in the model's dtype;
//   config.json            the source's config.json (or one written from the model's
//                          config for a llama2.c source) with "quantization_config";
//   quantize_config.json   bits, group_size, desc_act, sym, lm_head, quant_method "gptq",
//                          checkpoint_format "gptq" (v1 zeros) or "gptq_v2";
//   tokenizer and generation files copied from the source's directory.
// Layers the GPTQ format cannot hold (Int8Linear of SmoothQuant and LLM.int8(),
// Fp8Linear, SpqrLinear) go into the same model.safetensors as llmq's own tensors,
// listed in llmq_layers.json (model/llmq_checkpoint.h has the format); LoadModel reads
// any mix back bit-exactly, other tools do not. An export with no GPTQ layer at all has
// no quantize_config.json, and config.json says quant_method "llmq". A model with GPTQ
// layers only is written exactly as before llmq's layers existed.
//
// What other tools read (checked with transformers 5.23 + optimum 2.3 + GPTQModel 7.7 by
// tests/scripts/check_gptq_export.py; the summary's not_portable lists what applies):
// - group sizes that do not divide a layer's width: g_idx = column // group_size says
//   where the short last group is, which GPTQ's dequantization (scales[g_idx]) follows;
//   llmq reads it back, and so did GPTQModel for stories260K's 172 at g32. Widths whose
//   in * bits is not a multiple of 32 get zero-padded qweight words.
// - GPTQModel's kernels take group sizes -1 or powers of two 16..1024 only (g20 refused).
// - mixed precision: layers kept dense go to quantize_config "dynamic" ("-:" + regex),
//   which GPTQModel.load honours; transformers' GPTQ loader (optimum) replaces every block
//   linear and cannot load such an export. Likewise a quantized lm_head.
// - GPTQModel.load refuses asymmetric v1 ("gptq") checkpoints not made by gptqmodel >=
//   0.9 (older AutoGPTQ wrote corrupt zero points); use v1_zeros = false ("gptq_v2") for
//   asymmetric models meant for GPTQModel.load. transformers reads both.
#ifndef LLMQ_QUANT_GPTQ_EXPORT_H_
#define LLMQ_QUANT_GPTQ_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/gptq_checkpoint.h"
#include "model/transformer.h"

namespace llmq {

struct GptqExportOptions {
  // Where the model was loaded from: a Hugging Face directory, or a llama2.c .bin (whose
  // directory's tok*.model is copied as tokenizer.model). Empty: no files copied, and
  // config.json is written from the model's config.
  std::string source;
  bool v1_zeros = true;  // checkpoint_format "gptq" (what most tools read); false: "gptq_v2"
};

struct GptqExportSummary {
  GptqFormat format;                    // of the GPTQ layers, when `quantized` is not empty
  std::vector<std::string> quantized;   // linears written as qweight/qzeros/scales/g_idx
  std::vector<std::string> dense;       // linears written as weight (mixed precision)
  std::vector<std::string> llmq;        // linears written as llmq's own (llmq_layers.json)
  std::vector<std::string> not_portable;  // quantized linears other tools will refuse, and why
  std::vector<std::string> files;       // written, in out_dir
};

// Every QuantizedLinear must share bits (2, 3, 4 or 8) and group size; dense linears
// are written as they are, llmq's layers as above. At least one linear must be
// quantized. Creates out_dir. Errors name the layer or the file.
absl::StatusOr<GptqExportSummary> ExportGptq(CausalLM& model, const std::string& out_dir,
                                             const GptqExportOptions& options);

}  // namespace llmq

#endif  // LLMQ_QUANT_GPTQ_EXPORT_H_
