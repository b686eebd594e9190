#include "model/llmq_checkpoint.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status.h"
#include "model/spqr_linear.h"

namespace llmq {
namespace {

constexpr char kFormat[] = "llmq_layers";
constexpr int kVersion = 1;

const char* KindName(LlmqLayerKind kind) {
  switch (kind) {
    case LlmqLayerKind::kInt8:
      return "int8";
    case LlmqLayerKind::kFp8:
      return "fp8";
    case LlmqLayerKind::kSpqr:
      return "spqr";
  }
  return "?";
}

// "<layer>.llmq_<kind>.<part>"
std::string TensorName(const std::string& layer, LlmqLayerKind kind, const std::string& part) {
  return absl::StrCat(layer, ".llmq_", KindName(kind), ".", part);
}

// The dtype as safetensors readers (torch, numpy) name it.
std::string DtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kChar:
      return "int8";
    case at::kByte:
      return "uint8";
    case at::kShort:
      return "int16";
    case at::kInt:
      return "int32";
    case at::kLong:
      return "int64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kFloat:
      return "float32";
    default:
      return c10::toString(dtype);
  }
}

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "nothing";
  return absl::StrCat(DtypeName(t.scalar_type()), " [", absl::StrJoin(t.sizes(), ", "), "]");
}

// The tensors of one layer in the checkpoint: each checked for dtype (and shape, where
// known before reading others), errors naming the file and the tensor.
class LayerTensors {
 public:
  LayerTensors(const Checkpoint& checkpoint, const std::string& layer, LlmqLayerKind kind)
      : checkpoint_(checkpoint), layer_(layer), kind_(kind) {}

  absl::StatusOr<at::Tensor> Get(const std::string& part, std::initializer_list<at::ScalarType> dtypes,
                                 std::optional<std::vector<int64_t>> shape) const {
    const std::string name = TensorName(layer_, kind_, part);
    if (!checkpoint_.Has(name)) {
      const std::vector<std::string> files = checkpoint_.Files();
      return absl::NotFoundError(absl::StrCat(files.size() == 1 ? files[0] : checkpoint_.PathOf(name),
                                              ": no tensor '", name, "' (", kLlmqLayersFile, " lists ", layer_,
                                              " as ", KindName(kind_), ")"));
    }
    LLMQ_ASSIGN_OR_RETURN(at::Tensor t, checkpoint_.Get(name));
    bool dtype_ok = false;
    std::vector<std::string> names;
    for (at::ScalarType d : dtypes) {
      dtype_ok = dtype_ok || t.scalar_type() == d;
      names.push_back(DtypeName(d));
    }
    if (!dtype_ok || (shape && t.sizes().vec() != *shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          checkpoint_.PathOf(name), ": tensor '", name, "' must be ", absl::StrJoin(names, " or "),
          shape ? absl::StrCat(" [", absl::StrJoin(*shape, ", "), "]") : "", ", got ", Describe(t)));
    }
    return t;
  }

  // A layer's own error (a broken invariant), with the file and the layer's tensors.
  absl::Status Annotate(const absl::Status& status) const {
    const std::string first = TensorName(layer_, kind_, "codes");
    return llmq::Annotate(status, absl::StrCat(checkpoint_.PathOf(first), ": ", layer_, ".llmq_", KindName(kind_),
                                               ".*"));
  }

 private:
  const Checkpoint& checkpoint_;
  const std::string& layer_;
  LlmqLayerKind kind_;
};

absl::StatusOr<std::unique_ptr<Linear>> LoadLlmqLayer(const std::string& name, const LlmqLayerEntry& e,
                                                      const Checkpoint& checkpoint, const at::Tensor& bias,
                                                      at::ScalarType dtype, at::Device device) {
  const LayerTensors tensors(checkpoint, name, e.kind);
  const int64_t out = e.out_features, in = e.in_features;
  switch (e.kind) {
    case LlmqLayerKind::kInt8: {
      // The integer kernel runs on the CPU, whatever the model's device.
      LLMQ_ASSIGN_OR_RETURN(at::Tensor codes, tensors.Get("codes", {at::kChar}, std::vector<int64_t>{out, in}));
      LLMQ_ASSIGN_OR_RETURN(at::Tensor scales, tensors.Get("scales", {at::kFloat}, std::vector<int64_t>{out}));
      auto layer = Int8Linear::FromCodes(codes, scales, bias, e.int8, dtype);
      if (!layer.ok()) return tensors.Annotate(layer.status());
      return std::unique_ptr<Linear>(std::move(layer).value());
    }
    case LlmqLayerKind::kFp8: {
      const int64_t n_scales = e.fp8.per_channel ? out : 1;
      LLMQ_ASSIGN_OR_RETURN(at::Tensor codes, tensors.Get("codes", {at::kByte}, std::vector<int64_t>{out, in}));
      LLMQ_ASSIGN_OR_RETURN(at::Tensor scales, tensors.Get("scales", {at::kFloat}, std::vector<int64_t>{n_scales}));
      auto layer = Fp8Linear::FromCodes(codes.to(device), scales.to(device), bias, e.fp8, dtype);
      if (!layer.ok()) return tensors.Annotate(layer.status());
      return std::unique_ptr<Linear>(std::move(layer).value());
    }
    case LlmqLayerKind::kSpqr: {
      SpqrStorage st;
      st.bits = e.spqr_bits;
      st.scale_bits = e.spqr_scale_bits;
      st.group_size = e.spqr_group_size;
      st.out = out;
      st.in = in;
      const int64_t gs = std::max<int64_t>(1, e.spqr_group_size);
      const std::vector<int64_t> stats = {(out + gs - 1) / gs, (in + gs - 1) / gs};
      // Packed lengths and the outlier count are SpqrLinear::FromStorage's to check.
      LLMQ_ASSIGN_OR_RETURN(st.codes, tensors.Get("codes", {at::kByte}, std::nullopt));
      LLMQ_ASSIGN_OR_RETURN(st.scale_codes, tensors.Get("scale_codes", {at::kByte}, std::nullopt));
      LLMQ_ASSIGN_OR_RETURN(st.zero_codes, tensors.Get("zero_codes", {at::kByte}, std::nullopt));
      LLMQ_ASSIGN_OR_RETURN(st.scale_lo, tensors.Get("scale_lo", {at::kHalf}, stats));
      LLMQ_ASSIGN_OR_RETURN(st.scale_step, tensors.Get("scale_step", {at::kHalf}, stats));
      LLMQ_ASSIGN_OR_RETURN(st.zero_lo, tensors.Get("zero_lo", {at::kHalf}, stats));
      LLMQ_ASSIGN_OR_RETURN(st.zero_step, tensors.Get("zero_step", {at::kHalf}, stats));
      LLMQ_ASSIGN_OR_RETURN(st.row_ptr, tensors.Get("row_ptr", {at::kInt}, std::vector<int64_t>{out + 1}));
      LLMQ_ASSIGN_OR_RETURN(st.columns, tensors.Get("columns", {at::kShort, at::kInt}, std::nullopt));
      LLMQ_ASSIGN_OR_RETURN(st.values, tensors.Get("values", {at::kHalf}, std::nullopt));
      st.codes = st.codes.to(device);
      st.bias = bias;
      auto layer = SpqrLinear::FromStorage(st, dtype);
      if (!layer.ok()) return tensors.Annotate(layer.status());
      return std::unique_ptr<Linear>(std::move(layer).value());
    }
  }
  return absl::InternalError("unknown llmq layer kind");
}

// Reads one entry of llmq_layers.json; `where` is "<file>: layers['<name>']".
absl::StatusOr<LlmqLayerEntry> ParseEntry(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object"));
  auto integer = [&](const char* key, std::optional<int64_t> fallback) -> absl::StatusOr<int64_t> {
    if (!j.contains(key)) {
      if (fallback) return *fallback;
      return absl::InvalidArgumentError(absl::StrCat(where, ": missing '", key, "'"));
    }
    if (!j[key].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": expected an integer, got ", j[key].dump()));
    }
    return j[key].get<int64_t>();
  };
  auto text = [&](const char* key, std::initializer_list<const char*> allowed) -> absl::StatusOr<std::string> {
    if (!j.contains(key) || !j[key].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": expected one of ",
                                                     absl::StrJoin(allowed, ", ")));
    }
    const std::string value = j[key].get<std::string>();
    for (const char* a : allowed) {
      if (value == a) return value;
    }
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": '", value, "' is not one of ",
                                                   absl::StrJoin(allowed, ", ")));
  };
  LlmqLayerEntry e;
  LLMQ_ASSIGN_OR_RETURN(const std::string kind, text("kind", {"int8", "fp8", "spqr"}));
  LLMQ_ASSIGN_OR_RETURN(e.out_features, integer("out_features", std::nullopt));
  LLMQ_ASSIGN_OR_RETURN(e.in_features, integer("in_features", std::nullopt));
  if (e.out_features < 1 || e.in_features < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": out_features and in_features must be positive, got ", e.out_features, " and ",
                     e.in_features));
  }
  if (kind == "int8") {
    e.kind = LlmqLayerKind::kInt8;
    LLMQ_ASSIGN_OR_RETURN(const int64_t w, integer("weight_bits", std::nullopt));
    LLMQ_ASSIGN_OR_RETURN(const int64_t a, integer("activation_bits", std::nullopt));
    if (w < 2 || w > 8 || a < 2 || a > 8) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": weight_bits ", w, " and activation_bits ", a,
                                                     " must be in 2..8"));
    }
    e.int8.weight_bits = static_cast<int>(w);
    e.int8.activation_bits = static_cast<int>(a);
    if (j.contains("outlier_threshold")) {
      const nlohmann::json& t = j["outlier_threshold"];
      if (!t.is_number() || !(t.get<double>() >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".outlier_threshold: expected a number >= 0, got ", t.dump()));
      }
      e.int8.outlier_threshold = t.get<double>();
    }
  } else if (kind == "fp8") {
    e.kind = LlmqLayerKind::kFp8;
    LLMQ_ASSIGN_OR_RETURN(const std::string format, text("format", {"e4m3", "e5m2"}));
    LLMQ_ASSIGN_OR_RETURN(const std::string granularity, text("granularity", {"tensor", "channel"}));
    if (!j.contains("activations") || !j["activations"].is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".activations: expected true or false"));
    }
    e.fp8.format = format == "e4m3" ? Fp8Format::kE4M3 : Fp8Format::kE5M2;
    e.fp8.per_channel = granularity == "channel";
    e.fp8.activations = j["activations"].get<bool>();
  } else {
    e.kind = LlmqLayerKind::kSpqr;
    LLMQ_ASSIGN_OR_RETURN(const int64_t bits, integer("bits", std::nullopt));
    LLMQ_ASSIGN_OR_RETURN(const int64_t scale_bits, integer("scale_bits", std::nullopt));
    LLMQ_ASSIGN_OR_RETURN(e.spqr_group_size, integer("group_size", std::nullopt));
    if (bits < 1 || bits > 8 || scale_bits < 1 || scale_bits > 8 || e.spqr_group_size < 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bits ", bits, " and scale_bits ", scale_bits,
                                                     " must be in 1..8, group_size ", e.spqr_group_size,
                                                     " positive"));
    }
    e.spqr_bits = static_cast<int>(bits);
    e.spqr_scale_bits = static_cast<int>(scale_bits);
  }
  return e;
}

}  // namespace

bool IsLlmqLayer(const Linear& layer) {
  return dynamic_cast<const Int8Linear*>(&layer) != nullptr || dynamic_cast<const Fp8Linear*>(&layer) != nullptr ||
         dynamic_cast<const SpqrLinear*>(&layer) != nullptr;
}

absl::Status AddLlmqLayer(const std::string& name, const Linear& layer,
                          std::vector<std::pair<std::string, at::Tensor>>* tensors, LlmqLayers* layers) {
  LlmqLayerEntry e;
  e.out_features = layer.out_features();
  e.in_features = layer.in_features();
  auto add = [&](const std::string& part, const at::Tensor& t) {
    tensors->emplace_back(TensorName(name, e.kind, part), t);
  };
  if (const auto* int8 = dynamic_cast<const Int8Linear*>(&layer)) {
    e.kind = LlmqLayerKind::kInt8;
    e.int8 = int8->options();
    add("codes", int8->Codes());           // (out, in) int8
    add("scales", int8->weight_scales());  // (out) float32
  } else if (const auto* fp8 = dynamic_cast<const Fp8Linear*>(&layer)) {
    e.kind = LlmqLayerKind::kFp8;
    e.fp8 = fp8->options();
    add("codes", fp8->codes());    // (out, in) uint8
    add("scales", fp8->scales());  // (out) or (1) float32
  } else if (const auto* spqr = dynamic_cast<const SpqrLinear*>(&layer)) {
    e.kind = LlmqLayerKind::kSpqr;
    const SpqrStorage st = spqr->Storage();
    e.spqr_bits = st.bits;
    e.spqr_scale_bits = st.scale_bits;
    e.spqr_group_size = st.group_size;
    add("codes", st.codes);
    add("scale_codes", st.scale_codes);
    add("zero_codes", st.zero_codes);
    add("scale_lo", st.scale_lo);
    add("scale_step", st.scale_step);
    add("zero_lo", st.zero_lo);
    add("zero_step", st.zero_step);
    add("row_ptr", st.row_ptr);
    add("columns", st.columns);
    add("values", st.values);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a '", layer.Describe(), "' layer is not one of llmq's own kinds (int8, fp8, spqr)"));
  }
  (*layers)[name] = e;
  return absl::OkStatus();
}

std::string LlmqLayersJson(const LlmqLayers& layers) {
  nlohmann::json all = nlohmann::json::object();
  for (const auto& [name, e] : layers) {
    nlohmann::json j = {{"kind", KindName(e.kind)}, {"out_features", e.out_features}, {"in_features", e.in_features}};
    switch (e.kind) {
      case LlmqLayerKind::kInt8:
        j["weight_bits"] = e.int8.weight_bits;
        j["activation_bits"] = e.int8.activation_bits;
        if (e.int8.outlier_threshold >= 0) j["outlier_threshold"] = e.int8.outlier_threshold;
        break;
      case LlmqLayerKind::kFp8:
        j["format"] = Fp8FormatName(e.fp8.format);
        j["granularity"] = e.fp8.per_channel ? "channel" : "tensor";
        j["activations"] = e.fp8.activations;
        break;
      case LlmqLayerKind::kSpqr:
        j["bits"] = e.spqr_bits;
        j["scale_bits"] = e.spqr_scale_bits;
        j["group_size"] = e.spqr_group_size;
        break;
    }
    all[name] = j;
  }
  const nlohmann::json root = {{"format", kFormat}, {"version", kVersion}, {"layers", all}};
  return root.dump(2) + "\n";
}

absl::StatusOr<std::optional<LlmqLayers>> ReadLlmqLayers(const std::string& dir) {
  const std::string path = JoinPath(dir, kLlmqLayersFile);
  if (!FileExists(path)) {
    // A checkpoint that says it is llmq's needs the file (config.json errors are
    // LoadHfConfig's to report).
    const std::string config_path = JoinPath(dir, "config.json");
    if (FileExists(config_path)) {
      LLMQ_ASSIGN_OR_RETURN(const std::string config_text, ReadFile(config_path));
      const nlohmann::json config = nlohmann::json::parse(config_text, nullptr, /*allow_exceptions=*/false);
      if (config.is_object() && config.contains("quantization_config") &&
          config["quantization_config"].is_object() &&
          config["quantization_config"].value("quant_method", std::string()) == kLlmqQuantMethod) {
        return absl::NotFoundError(absl::StrCat(config_path, " says quant_method \"", kLlmqQuantMethod,
                                                "\", but ", path, " is missing"));
      }
    }
    return std::optional<LlmqLayers>();
  }
  LLMQ_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  const nlohmann::json root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return CatchExceptions(path, [&]() -> absl::StatusOr<std::optional<LlmqLayers>> {
    if (root.value("format", std::string()) != kFormat) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": 'format' must be \"", kFormat, "\""));
    }
    if (!root.contains("version") || !root["version"].is_number_integer() || root["version"].get<int>() != kVersion) {
      return absl::UnimplementedError(absl::StrCat(path, ": version ", root.value("version", nlohmann::json()).dump(),
                                                   " is not supported (this llmq reads version ", kVersion, ")"));
    }
    if (!root.contains("layers") || !root["layers"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": 'layers' must be an object"));
    }
    LlmqLayers layers;
    for (auto it = root["layers"].begin(); it != root["layers"].end(); ++it) {
      LLMQ_ASSIGN_OR_RETURN(layers[it.key()], ParseEntry(*it, absl::StrCat(path, ": layers['", it.key(), "']")));
    }
    return std::optional<LlmqLayers>(std::move(layers));
  });
}

absl::StatusOr<std::unique_ptr<CausalLM>> LoadQuantizedModel(const ModelConfig& config,
                                                             const std::optional<GptqFormat>& gptq,
                                                             const LlmqLayers& layers,
                                                             const Checkpoint& checkpoint, at::ScalarType dtype,
                                                             at::Device device) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  // Create wants a dense weight for every linear; for the quantized ones it gets an
  // uninitialised tensor of the right shape that nothing writes or reads (on CPU its
  // pages are never touched) and that the quantized layer replaces below.
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    if (absl::EndsWith(name, ".weight")) {
      const std::string prefix = name.substr(0, name.size() - 7);
      if (auto it = layers.find(prefix); it != layers.end()) {
        return at::empty({it->second.out_features, it->second.in_features}, options);
      }
      if (gptq && checkpoint.Has(prefix + ".qweight")) {
        LLMQ_ASSIGN_OR_RETURN(const auto shape, GptqLinearShape(prefix, *gptq, checkpoint));
        return at::empty({shape.first, shape.second}, options);
      }
    }
    return checkpoint.Get(name);
  };
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<CausalLM> model, CausalLM::Create(config, lookup, dtype, device));
  return CatchExceptions("loading quantized layers", [&]() -> absl::StatusOr<std::unique_ptr<CausalLM>> {
    std::set<std::string> loaded;
    for (NamedLinear& l : model->Linears()) {
      const Linear& old = **l.slot;
      const bool is_gptq = gptq && checkpoint.Has(l.name + ".qweight");
      if (auto it = layers.find(l.name); it != layers.end()) {
        if (is_gptq) {
          return absl::InvalidArgumentError(absl::StrCat(checkpoint.PathOf(l.name + ".qweight"), ": ", l.name,
                                                         " is both a GPTQ layer and listed in ", kLlmqLayersFile));
        }
        LLMQ_ASSIGN_OR_RETURN(*l.slot, LoadLlmqLayer(l.name, it->second, checkpoint, old.bias(), dtype, device));
        loaded.insert(l.name);
      } else if (is_gptq) {
        LLMQ_ASSIGN_OR_RETURN(*l.slot, LoadGptqLinear(l.name, old.out_features(), old.in_features(), *gptq,
                                                      checkpoint, old.bias(), dtype, device));
      }
    }
    for (const auto& [name, entry] : layers) {
      if (loaded.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(kLlmqLayersFile, " lists '", name, "', which is not a linear layer of this model"));
      }
    }
    return std::move(model);
  });
}

}  // namespace llmq
