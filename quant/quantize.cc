#include "quant/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <glog/logging.h>

#include <chrono>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "grid/schema.h"
#include "model/int8_gemm.h"
#include "model/quantized_kernels.h"
#include "model/quantized_linear.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/layer_overrides.h"
#include "quant/group_quant.h"
#include "quant/rtn.h"
#include "quant/smoothquant.h"
#include "quant/w8_swap.h"
#include "quant/spqr.h"

namespace llmq {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::StatusOr<QuantSpec> SpecOf(const Params& p) {
  QuantSpec spec;
  LLMQ_ASSIGN_OR_RETURN(int64_t bits, GetInt(p, "bits"));
  LLMQ_ASSIGN_OR_RETURN(spec.group_size, GetInt(p, "group_size"));
  LLMQ_ASSIGN_OR_RETURN(spec.sym, GetBool(p, "sym"));
  if (bits < 2 || bits > 8) {
    return absl::InvalidArgumentError(absl::StrCat("parameter 'bits' = ", bits, ": expected 2..8"));
  }
  if (spec.group_size == 0 || spec.group_size < -1) {
    return absl::InvalidArgumentError(absl::StrCat("parameter 'group_size' = ", spec.group_size,
                                                   ": expected -1 or a positive size"));
  }
  spec.bits = static_cast<int>(bits);
  return spec;
}

absl::StatusOr<SpqrOptions> SpqrOptionsOf(const Params& p) {
  SpqrOptions o;
  LLMQ_ASSIGN_OR_RETURN(int64_t bits, GetInt(p, "bits"));
  LLMQ_ASSIGN_OR_RETURN(int64_t scale_bits, GetInt(p, "scale_bits"));
  LLMQ_ASSIGN_OR_RETURN(o.group_size, GetInt(p, "group_size"));
  LLMQ_ASSIGN_OR_RETURN(o.outlier_threshold, GetDouble(p, "outlier_threshold"));
  if (bits < 2 || bits > 8 || scale_bits < 2 || scale_bits > 8) {
    return absl::InvalidArgumentError(absl::StrCat("spqr: bits ", bits, " and scale_bits ",
                                                   scale_bits, ": expected 2..8"));
  }
  if (o.group_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spqr: group_size ", o.group_size, ": expected a positive size (its groups are small)"));
  }
  if (!(o.outlier_threshold >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("spqr: outlier_threshold ", o.outlier_threshold, ": expected >= 0"));
  }
  o.bits = static_cast<int>(bits);
  o.scale_bits = static_cast<int>(scale_bits);
  return o;
}

// Packs a method's result into the slot (quant/rtn.h), computing in the model's dtype, or
// (Installation::kDense) writes the dequantized weight, fp32 scales, into the dense slot.
LayerInstaller MakeInstaller(Installation installation, at::ScalarType dtype) {
  if (installation == Installation::kDense) {
    return [](const NamedLinear& linear, const GroupQuantized& q) -> absl::Status {
      at::Tensor* w = (*linear.slot)->mutable_dense_weight();
      if (w == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(linear.name, ": not a dense layer"));
      }
      w->copy_(Dequantize(q));
      return absl::OkStatus();
    };
  }
  return [dtype](const NamedLinear& linear, const GroupQuantized& q) {
    NamedLinear slot = linear;
    return ReplaceWithQuantized(slot, q, dtype);
  };
}

// Windows per block forward: bounded so that attention scores and MLP activations of one
// chunk stay near 1 GiB.
int64_t DriverBatchSize(const ModelConfig& c, int64_t seq) {
  const int64_t per_window = std::max(c.num_heads * seq * seq, seq * c.intermediate_size) * 4 * 3;
  return std::max<int64_t>(1, (int64_t{1} << 30) / std::max<int64_t>(per_window, 1));
}

// RTN through quant/rtn.h; one record per block linear.
absl::Status RunRtn(CausalLM& model, const QuantSpec& spec, const std::string& keep,
                    QuantizationReport* report, const QuantizeProgress& progress) {
  RtnOptions options;
  options.spec = spec;
  options.selection.keep = ParseKeepPatterns(keep);
  const auto start = Clock::now();
  LLMQ_ASSIGN_OR_RETURN(QuantizeSummary summary, QuantizeModelRtn(model, options));
  const double seconds = SecondsSince(start) / std::max<size_t>(1, summary.quantized.size());
  std::set<std::string> quantized(summary.quantized.begin(), summary.quantized.end());
  for (const NamedLinear& linear : model.Linears()) {
    if (linear.layer < 0) continue;  // lm_head stays dense
    const bool done = quantized.count(linear.name) > 0;
    report->layers.push_back({linear.name, linear.layer, done ? "quantized" : "kept",
                              (*linear.slot)->Describe(), done ? seconds : 0, {}});
  }
  report->provenance["linear_bytes_before"] = absl::StrCat(summary.linear_bytes_before);
  report->provenance["linear_bytes_after"] = absl::StrCat(summary.linear_bytes_after);
  if (progress) progress("quantize", 1, 1);
  return absl::OkStatus();
}

// The 8-bit methods, whose own layers replace the dense ones (no packed installation).
bool IsW8Method(const std::string& method) {
  return method == "smoothquant" || method == "fp8" || method == "llm_int8";
}

absl::StatusOr<Fp8Linear::Options> Fp8OptionsOf(const Params& p) {
  Fp8Linear::Options o;
  LLMQ_ASSIGN_OR_RETURN(std::string granularity, GetString(p, "granularity"));
  LLMQ_ASSIGN_OR_RETURN(std::string format, GetString(p, "format"));
  LLMQ_ASSIGN_OR_RETURN(o.activations, GetBool(p, "activations"));
  if ((granularity != "tensor" && granularity != "channel") || (format != "e4m3" && format != "e5m2")) {
    return absl::InvalidArgumentError(absl::StrCat("fp8: granularity '", granularity, "' / format '", format,
                                                   "': expected tensor or channel / e4m3 or e5m2"));
  }
  o.per_channel = granularity == "channel";
  o.format = format == "e4m3" ? Fp8Format::kE4M3 : Fp8Format::kE5M2;
  return o;
}

absl::StatusOr<SmoothQuantOptions> SmoothQuantOptionsOf(const Params& p) {
  SmoothQuantOptions o;
  LLMQ_ASSIGN_OR_RETURN(o.alpha, GetDouble(p, "alpha"));
  LLMQ_ASSIGN_OR_RETURN(int64_t w_bits, GetInt(p, "w_bits"));
  LLMQ_ASSIGN_OR_RETURN(int64_t a_bits, GetInt(p, "a_bits"));
  if (!(o.alpha >= 0 && o.alpha <= 1) || w_bits < 2 || w_bits > 8 || a_bits < 2 || a_bits > 8) {
    return absl::InvalidArgumentError(absl::StrCat("smoothquant: alpha ", o.alpha, " must be in [0, 1], w_bits ",
                                                   w_bits, " and a_bits ", a_bits, " in 2..8"));
  }
  o.weight_bits = static_cast<int>(w_bits);
  o.activation_bits = static_cast<int>(a_bits);
  return o;
}

absl::StatusOr<double> LlmInt8ThresholdOf(const Params& p) {
  LLMQ_ASSIGN_OR_RETURN(double threshold, GetDouble(p, "threshold"));
  if (!(threshold >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("llm_int8: threshold ", threshold, " must be >= 0"));
  }
  return threshold;
}

// What the W8 methods store and compute, for provenance.
void AddW8Provenance(const std::string& method, const Params& p, QuantizationReport* report) {
  auto& prov = report->provenance;
  const std::string kernel = Int8GemmKernels();
  if (method == "fp8") {
    const bool per_channel = p.at("granularity") == "channel";
    prov["storage"] = absl::StrCat("fp8 ", p.at("format"), " codes, 1 byte per weight, float32 scales per ",
                                   per_channel ? "output channel" : "tensor");
    prov["activations"] = p.at("activations") == "true"
                              ? absl::StrCat(p.at("format"),
                                             " per token, dynamic scale; fake-quantized: rounded to fp8 and "
                                             "multiplied in float32 (no fp8 arithmetic on this CPU)")
                              : "not quantized (weight-only; weights decoded to float32 for the GEMM)";
  } else {
    prov["storage"] = "int8 codes, 1 byte per weight (16-row x 4-column blocks), float32 scales per output channel";
    prov["int8_kernel"] = kernel;
    if (method == "llm_int8") {
      prov["activations"] = absl::StrCat("int8 per token, dynamic absmax, int32 accumulation; input columns with |x| > ",
                                         p.at("threshold"), " in 16-bit float against the dequantized int8 weights");
    } else {
      prov["activations"] = absl::StrCat("int", p.at("a_bits"), " levels per token, dynamic absmax, int32 accumulation");
      if (p.at("w_bits") != "8" || p.at("a_bits") != "8") {
        prov["fake_quantized"] = absl::StrCat("w_bits=", p.at("w_bits"), " a_bits=", p.at("a_bits"),
                                              ": fewer levels in int8 storage and the int8 kernel");
      }
    }
  }
}

// smoothquant, fp8 and llm_int8: their layers replace the dense ones (no packed installation).
absl::Status QuantizeW8(CausalLM& model, const std::string& method, const CalibrationSet* calibration,
                        const QuantizeProgress& progress, QuantizationReport* report) {
  const Params& p = report->params;
  const std::vector<std::string> keep_patterns = ParseKeepPatterns(p.at("keep"));
  std::map<std::string, int64_t> bytes_before;
  for (const NamedLinear& linear : model.Linears()) bytes_before[linear.name] = (*linear.slot)->WeightBytes();
  report->provenance = {{"threads", absl::StrCat(at::get_num_threads())},
                        {"dtype", std::string(c10::toString(model.dtype()))},
                        {"device", model.device().str()}};
  AddW8Provenance(method, p, report);
  if (method == "fp8") {
    LLMQ_ASSIGN_OR_RETURN(Fp8Linear::Options options, Fp8OptionsOf(p));
    LLMQ_RETURN_IF_ERROR(QuantizeModelFp8(model, options, keep_patterns, &report->layers));
    if (progress) progress("quantize", 1, 1);
  } else if (method == "llm_int8") {
    LLMQ_ASSIGN_OR_RETURN(double threshold, LlmInt8ThresholdOf(p));
    LLMQ_RETURN_IF_ERROR(QuantizeModelLlmInt8(model, threshold, keep_patterns, &report->layers));
    if (progress) progress("quantize", 1, 1);
  } else {
    if (calibration == nullptr || !calibration->tokens.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(method, " needs calibration windows"));
    }
    LLMQ_ASSIGN_OR_RETURN(SmoothQuantOptions options, SmoothQuantOptionsOf(p));
    report->calibration = absl::StrCat("tokens ", calibration->tokens.size(0), "x", calibration->tokens.size(1), " ",
                                       calibration->sampling);
    report->calibration_fingerprint = calibration->fingerprint;
    report->calibration_sampling = calibration->sampling;
    KeepPredicate keep = [keep_patterns](const std::string& name) {
      for (const std::string& pattern : keep_patterns) {
        if (GlobMatch(pattern, name)) return true;
      }
      return false;
    };
    LayerDriverOptions driver;
    driver.batch_size = DriverBatchSize(model.config(), calibration->tokens.size(1));
    driver.true_sequential = false;
    driver.progress = [&](int done, int total) {
      LOG(INFO) << "stage=quantize method=" << method << " layer=" << done << "/" << total;
      if (progress) progress("quantize", done, total);
    };
    std::unique_ptr<BlockMethod> block_method = MakeSmoothQuantMethod(model, options, keep, &report->layers);
    report->provenance["driver_batch"] = absl::StrCat(driver.batch_size);
    report->provenance["smoothing"] = "input_layernorm -> q,k,v; post_attention_layernorm -> gate,up (Phi: fc1 too)";
    LLMQ_RETURN_IF_ERROR(Annotate(RunLayerSequential(model, calibration->tokens, *block_method, driver), method));
  }
  int64_t before = 0, after = 0;
  std::set<std::string> quantized;
  for (const LayerRecord& r : report->layers) {
    if (r.action == "quantized") quantized.insert(r.name);
  }
  for (const NamedLinear& linear : model.Linears()) {
    if (quantized.count(linear.name) == 0) continue;
    before += bytes_before[linear.name];
    after += (*linear.slot)->WeightBytes();
  }
  report->provenance["linear_bytes_before"] = absl::StrCat(before);
  report->provenance["linear_bytes_after"] = absl::StrCat(after);
  return absl::OkStatus();
}

// SpQR: outliers over every quantized weight, as a count and a fraction.
void AddOutlierProvenance(QuantizationReport& report) {
  double outliers = 0, weights = 0;
  for (const LayerRecord& r : report.layers) {
    auto n = r.stats.find("outliers");
    auto w = r.stats.find("weights");
    if (n == r.stats.end() || w == r.stats.end()) continue;
    outliers += n->second;
    weights += w->second;
  }
  report.provenance["outliers"] = absl::StrCat(static_cast<int64_t>(outliers));
  report.provenance["outlier_fraction"] = absl::StrCat(weights > 0 ? outliers / weights : 0.0);
}

}  // namespace

bool IsCalibratedMethod(const std::string& method) {
  const GridEntrySchema* schema = FindGridMethod(method);
  return schema != nullptr && schema->calibrates;
}

absl::StatusOr<Params> ResolveQuantizationParams(const std::string& method, const Params& params) {
  static const std::set<std::string>* const kImplemented =
      new std::set<std::string>{"rtn", "gptq", "awq", "gsq", "smoothquant", "fp8", "llm_int8", "spqr"};
  const GridEntrySchema* schema = FindGridMethod(method);
  if (schema == nullptr || kImplemented->count(method) == 0) {
    if (schema != nullptr && method != "none") {
      return absl::InvalidArgumentError(absl::StrCat(
          "quantization method '", method,
          "' is part of the grid format but this worker does not implement it yet (it runs rtn, "
          "gptq, awq, gsq, smoothquant, fp8, llm_int8 and spqr)"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown quantization method '", method, "': expected rtn, gptq, awq, gsq, smoothquant, fp8, llm_int8 or spqr"));
  }
  LLMQ_ASSIGN_OR_RETURN(Params resolved, CompleteParams(*schema, params));
  if (method == "fp8") {
    LLMQ_RETURN_IF_ERROR(Fp8OptionsOf(resolved).status());
    return resolved;
  }
  if (method == "smoothquant") {
    LLMQ_RETURN_IF_ERROR(SmoothQuantOptionsOf(resolved).status());
    return resolved;
  }
  if (method == "llm_int8") {
    LLMQ_RETURN_IF_ERROR(LlmInt8ThresholdOf(resolved).status());
    return resolved;
  }
  if (method == "spqr") {
    LLMQ_RETURN_IF_ERROR(SpqrOptionsOf(resolved).status());
    return resolved;
  }
  LLMQ_RETURN_IF_ERROR(SpecOf(resolved).status());
  if (method == "gptq") {
    LLMQ_ASSIGN_OR_RETURN(double damp, GetDouble(resolved, "damp"));
    LLMQ_ASSIGN_OR_RETURN(int64_t block, GetInt(resolved, "block_size"));
    for (const char* flag : {"act_order", "static_groups", "true_sequential"}) {
      LLMQ_RETURN_IF_ERROR(GetBool(resolved, flag).status());
    }
    if (!(damp >= 0 && damp <= 1) || block <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gptq: damp ", damp, " must be in [0, 1] and block_size ", block, " positive"));
    }
  } else if (method != "rtn") {
    LLMQ_ASSIGN_OR_RETURN(int64_t grid, GetInt(resolved, "grid"));
    LLMQ_RETURN_IF_ERROR(GetBool(resolved, "clip").status());
    if (grid < 1)
      return absl::InvalidArgumentError(absl::StrCat(method, ": grid ", grid, " must be >= 1"));
  }
  return resolved;
}

std::string DescribeQuantization(const std::string& method, const Params& resolved,
                                 const std::string& calibration, const std::string& fingerprint) {
  std::string out = method;
  const GridEntrySchema* schema = FindGridMethod(method);
  for (const auto& [name, value] : resolved) {
    const GridParamSchema* param = schema != nullptr ? schema->FindParam(name) : nullptr;
    if (param != nullptr && (!param->affects_result ||
                             (param->keyed_only_when_set && value == param->default_value))) {
      continue;  // scan; block and overrides when not set
    }
    absl::StrAppend(&out, " ", name, "=", value);
  }
  if (!calibration.empty()) {
    absl::StrAppend(&out, " | calibration ", calibration, " sha256=", fingerprint);
  }
  return out;
}

namespace {

// `block: N`: the method with every linear of the other blocks added to `keep`, so
// calibrated methods still see the float model's inputs at block N.
absl::StatusOr<QuantizationReport> QuantizeOneBlock(CausalLM& model, const std::string& method,
                                                    const Params& resolved,
                                                    const CalibrationSet* calibration,
                                                    const QuantizeProgress& progress,
                                                    Installation installation) {
  LLMQ_ASSIGN_OR_RETURN(const int64_t block, GetInt(resolved, "block"));
  const int64_t blocks = model.config().num_layers;
  if (block < 0 || block >= blocks) {
    return absl::InvalidArgumentError(absl::StrCat(method, ": block ", block,
                                                   " is not a block of this model (it has ",
                                                   blocks, ": 0..", blocks - 1, ")"));
  }
  std::vector<std::string> keep = ParseKeepPatterns(resolved.at("keep"));
  for (const NamedLinear& l : model.Linears()) {
    if (l.layer >= 0 && l.layer != block) keep.push_back(l.name);
  }
  Params only = resolved;
  only["block"] = "-1";
  only["keep"] = absl::StrJoin(keep, ",");
  LLMQ_ASSIGN_OR_RETURN(QuantizationReport report,
                        QuantizeModelWithCalibration(model, method, only, calibration, progress,
                                                     installation));
  report.params = resolved;
  report.provenance["block"] = absl::StrCat(block, " of ", blocks, " (the others in float)");
  report.description = DescribeQuantization(method, report.params, report.calibration,
                                            report.calibration_fingerprint);
  return report;
}

}  // namespace

absl::StatusOr<QuantizationReport> QuantizeModelWithCalibration(CausalLM& model,
                                                                const std::string& method,
                                                                const Params& params,
                                                                const CalibrationSet* calibration,
                                                                const QuantizeProgress& progress,
                                                                Installation installation) {
  const auto start = Clock::now();
  // Calibration runs the layers already quantized in float32 on every CPU: the codes do
  // not depend on whether this one has bfloat16 units (model/quantized_kernels.h).
  ScopedFloat32Kernels float32_kernels;
  QuantizationReport report;
  report.method = method;
  LLMQ_ASSIGN_OR_RETURN(report.params, ResolveQuantizationParams(method, params));
  const Params& p = report.params;
  if (p.at("block") != "-1") return QuantizeOneBlock(model, method, p, calibration, progress, installation);
  if (!p.at("overrides").empty()) {
    return QuantizeWithOverrides(model, method, p, calibration, progress, installation);
  }
  if (IsW8Method(method)) {
    LLMQ_RETURN_IF_ERROR(QuantizeW8(model, method, calibration, progress, &report));
    report.seconds["quantization"] = SecondsSince(start);
    report.seconds["total"] = report.seconds["quantization"];
    report.description = DescribeQuantization(method, report.params, report.calibration,
                                              report.calibration_fingerprint);
    return report;
  }
  QuantSpec spec;
  if (method != "spqr") {
    LLMQ_ASSIGN_OR_RETURN(spec, SpecOf(p));
  }
  // Scales rounded to what the installation stores as they are computed, so that codes and
  // GPTQ's error feedback use the stored scales (RTN always packs and sets it itself).
  spec.scale_dtype =
      installation == Installation::kPacked ? QuantizedLinear::kScaleDtype : at::kFloat;
  const std::vector<std::string> keep_patterns = ParseKeepPatterns(p.at("keep"));
  KeepPredicate keep = [keep_patterns](const std::string& name) {
    for (const std::string& pattern : keep_patterns) {
      if (GlobMatch(pattern, name)) return true;
    }
    return false;
  };
  report.provenance = {{"storage", "packed"},
                       {"threads", absl::StrCat(at::get_num_threads())},
                       {"dtype", std::string(c10::toString(model.dtype()))},
                       {"device", model.device().str()}};

  if (!IsCalibratedMethod(method)) {
    LLMQ_RETURN_IF_ERROR(RunRtn(model, spec, p.at("keep"), &report, progress));
  } else {
    if (calibration == nullptr || !calibration->tokens.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(method, " needs calibration windows"));
    }
    report.calibration = absl::StrCat("tokens ", calibration->tokens.size(0), "x",
                                      calibration->tokens.size(1), " ", calibration->sampling);
    report.calibration_fingerprint = calibration->fingerprint;
    report.calibration_sampling = calibration->sampling;
    LayerDriverOptions driver;
    driver.batch_size = DriverBatchSize(model.config(), calibration->tokens.size(1));
    driver.progress = [&](int done, int total) {
      LOG(INFO) << "stage=quantize method=" << method << " layer=" << done << "/" << total;
      if (progress) progress("quantize", done, total);
    };
    std::unique_ptr<BlockMethod> block_method;
    if (method == "spqr") {
      LLMQ_ASSIGN_OR_RETURN(SpqrOptions o, SpqrOptionsOf(p));
      block_method = MakeSpqrMethod(o, keep, model.dtype(), &report.layers);
      report.provenance["storage"] = "spqr";
    } else if (method == "gptq") {
      GptqOptions o;
      o.spec = spec;
      LLMQ_ASSIGN_OR_RETURN(o.damp, GetDouble(p, "damp"));
      LLMQ_ASSIGN_OR_RETURN(o.block_size, GetInt(p, "block_size"));
      LLMQ_ASSIGN_OR_RETURN(o.act_order, GetBool(p, "act_order"));
      LLMQ_ASSIGN_OR_RETURN(o.static_groups, GetBool(p, "static_groups"));
      LLMQ_ASSIGN_OR_RETURN(driver.true_sequential, GetBool(p, "true_sequential"));
      block_method = MakeGptqMethod(o, keep, MakeInstaller(installation, model.dtype()), &report.layers);
      report.provenance["hessian_dtype"] = "float32";
      report.provenance["max_damp"] = absl::StrCat(o.max_damp);
    } else {
      AwqOptions o;
      o.spec = spec;
      LLMQ_ASSIGN_OR_RETURN(int64_t grid, GetInt(p, "grid"));
      o.grid = static_cast<int>(grid);
      LLMQ_ASSIGN_OR_RETURN(o.clip, GetBool(p, "clip"));
      driver.true_sequential = false;
      block_method = MakeAwqMethod(model, o, keep, MakeInstaller(installation, model.dtype()), &report.layers);
      report.provenance["clip_max_shrink"] = absl::StrCat(o.max_shrink);
    }
    report.provenance["driver_batch"] = absl::StrCat(driver.batch_size);
    report.provenance["true_sequential"] = driver.true_sequential ? "true" : "false";
    LLMQ_RETURN_IF_ERROR(
        Annotate(RunLayerSequential(model, calibration->tokens, *block_method, driver), method));
    if (method == "spqr") AddOutlierProvenance(report);
    for (const LayerRecord& r : report.layers) {
      auto final_damp = r.stats.find("damp_final");
      if (final_damp == r.stats.end()) continue;
      report.max_final_damp = std::max(report.max_final_damp, final_damp->second);
      if (final_damp->second > r.stats.at("damp")) ++report.damped_layers;
    }
  }
  report.seconds["quantization"] = SecondsSince(start);
  report.seconds["total"] = report.seconds["quantization"];
  report.description = DescribeQuantization(method, report.params, report.calibration,
                                            report.calibration_fingerprint);
  return report;
}

absl::StatusOr<QuantizationReport> QuantizeModel(CausalLM& model, const Tokenizer& tokenizer,
                                                 const std::string& method, const Params& params,
                                                 const CalibrationSpec& calibration,
                                                 const QuantizeProgress& progress) {
  const auto start = Clock::now();
  LLMQ_RETURN_IF_ERROR(ResolveQuantizationParams(method, params).status());
  CalibrationSet set;
  double calibration_seconds = 0;
  if (IsCalibratedMethod(method)) {
    LLMQ_ASSIGN_OR_RETURN(set, LoadCalibration(tokenizer, calibration));
    calibration_seconds = SecondsSince(start);
    LOG(INFO) << "stage=calibration windows=" << calibration.samples << "x" << calibration.seq_len
              << " sampling=" << set.sampling << " sha256=" << set.fingerprint;
    if (progress) progress("calibration", 1, 1);
  }
  LLMQ_ASSIGN_OR_RETURN(
      QuantizationReport report,
      QuantizeModelWithCalibration(model, method, params,
                                   IsCalibratedMethod(method) ? &set : nullptr, progress));
  if (IsCalibratedMethod(method)) report.calibration = DescribeCalibration(calibration);
  report.seconds["calibration"] = calibration_seconds;
  report.seconds["total"] = SecondsSince(start);
  report.description = DescribeQuantization(method, report.params, report.calibration,
                                            report.calibration_fingerprint);
  return report;
}

}  // namespace llmq
