// The one entry point the worker calls to quantize a model in place: a method name, its
// parameters as canonical strings, and (for calibrated methods) a calibration spec.
//
// Methods: rtn; gptq; awq and gsq (one algorithm, two names: gsq is the seed paper's name
// for it; see quant/awq.h). Their parameters and defaults are the grid schema's
// (grid/schema.cc, the one table): parameters not given are completed from it.
// group_size -1 = one group per row; any positive size works, also one that does not
// divide a layer's width (the last group is shorter). `keep` is a comma-separated list of
// layer-name patterns left dense (quant/rtn.h's GlobMatch: `*` any run, `?` one character,
// whole name): "model.layers.0.*,*.down_proj". Unknown parameters are errors. lm_head is
// never quantized. Quantized layers become packed QuantizedLinears (ReplaceWithQuantized).
// The 8-bit methods install their own layers: smoothquant (quant/smoothquant.h: Int8Linear,
// W8A8 with integer accumulation), fp8 (Fp8Linear) and llm_int8 (Int8Linear with fp16
// outlier columns), quant/w8_swap.h; for them Installation does not apply.
#ifndef LLMQ_QUANT_QUANTIZE_H_
#define LLMQ_QUANT_QUANTIZE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/params.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"
#include "quant/calibration.h"
#include "quant/layer_driver.h"

namespace llmq {

struct QuantizationReport {
  std::string method;
  Params params;            // resolved: every parameter of the method, defaults filled in
  std::string description;  // stable one-line description of what was done (see below)
  std::vector<LayerRecord> layers;
  // Calibrated methods only.
  std::string calibration;              // DescribeCalibration of the spec
  std::string calibration_fingerprint;  // SHA-256 of the calibration tokens
  std::string calibration_sampling;     // first | random-document | random-stream
  // Largest final damp over the layers (GPTQ), and how many layers needed more than asked.
  double max_final_damp = 0;
  int64_t damped_layers = 0;
  // Seconds per stage: "calibration" (drawing tokens), "quantization", "total".
  std::map<std::string, double> seconds;
  // Everything else worth keeping with a result: storage, threads, dtype, driver options.
  std::map<std::string, std::string> provenance;
};

// progress(stage, done, total): stage "calibration" or "quantize" (layers).
using QuantizeProgress = std::function<void(const std::string&, int64_t, int64_t)>;

// Draws the calibration windows (calibrated methods only) and quantizes `model` in place.
absl::StatusOr<QuantizationReport> QuantizeModel(CausalLM& model, const Tokenizer& tokenizer,
                                                 const std::string& method, const Params& params,
                                                 const CalibrationSpec& calibration,
                                                 const QuantizeProgress& progress = nullptr);

// How calibrated methods (gptq, awq) install their results. kPacked, what the worker
// uses: packed QuantizedLinears with fp16 scales, as GPTQ checkpoints store them, and the
// methods quantize (and GPTQ feeds its errors back) with those fp16 scales. kDense: the
// dequantized weight with fp32 scales, left dense (no memory saved), which is what
// reference implementations that never round scales evaluate; for comparisons with them.
// (stories260K tinystories ppl, GPTQ through kDense gives the reference's numbers: w3 g16
// 7.0315, w3 g32 8.0456. Packed, the fp16 grid changes rounding decisions and so the later
// layers' calibration inputs: 6.9630 (-1.0 %) and 8.1927 (+1.8 %); -0.8 … +0.6 % at 4 bits.)
enum class Installation { kPacked, kDense };

// The same with windows already drawn (`calibration` may be null for rtn).
absl::StatusOr<QuantizationReport> QuantizeModelWithCalibration(
    CausalLM& model, const std::string& method, const Params& params,
    const CalibrationSet* calibration, const QuantizeProgress& progress = nullptr,
    Installation installation = Installation::kPacked);

// The method's parameters with defaults filled in, validated; errors name the parameter.
absl::StatusOr<Params> ResolveQuantizationParams(const std::string& method, const Params& params);

// Whether the method draws calibration windows.
bool IsCalibratedMethod(const std::string& method);

// "gptq act_order=false bits=4 ... | calibration c4 first 32x512 seed=0 sha256=…": method,
// resolved parameters in name order, calibration and its fingerprint. Depends only on what
// determines the quantized weights, never on the coordinator's keys or timings.
std::string DescribeQuantization(const std::string& method, const Params& resolved,
                                 const std::string& calibration, const std::string& fingerprint);

}  // namespace llmq

#endif  // LLMQ_QUANT_QUANTIZE_H_
