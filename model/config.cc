#include "model/config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace llmq {
namespace {

using Json = nlohmann::json;

absl::Status FieldError(const std::string& path, absl::string_view field,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": field '", field, "': ", problem));
}

// Reads an optional number field; keeps `*out` when absent or null.
template <typename T>
absl::Status ReadNumber(const Json& j, const std::string& path, const char* field, T* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) return FieldError(path, field, "expected a number");
  *out = it->get<T>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& j, const std::string& path, const char* field, bool* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return FieldError(path, field, "expected true or false");
  *out = it->get<bool>();
  return absl::OkStatus();
}

// bos/eos may be a number or a list of numbers (Llama-3.1 lists several EOS ids).
absl::Status ReadTokenId(const Json& j, const std::string& path, const char* field,
                         std::optional<int32_t>* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_integer()) {
    *out = it->get<int32_t>();
  } else if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
    *out = (*it)[0].get<int32_t>();
  } else {
    return FieldError(path, field, "expected a token id or a list of token ids");
  }
  return absl::OkStatus();
}

absl::Status RequirePositive(const std::string& path, const char* field, int64_t value) {
  if (value <= 0) return FieldError(path, field, "missing or not a positive integer");
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseFromJson(const Json& j, const std::string& path) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  ModelConfig c;
  const std::string model_type = j.value("model_type", "");
  if (model_type == "llama" || model_type == "mistral") {
    c.arch = Architecture::kLlama;
  } else if (model_type == "qwen2") {
    c.arch = Architecture::kQwen2;
    c.attention_bias = true;
  } else if (model_type == "phi") {
    c.arch = Architecture::kPhi;
    c.hidden_act = "gelu_new";
    c.output_bias = c.mlp_bias = c.lm_head_bias = true;
    c.attention_bias = true;
    c.partial_rotary_factor = 0.5;
  } else {
    return FieldError(path, "model_type",
                      absl::StrCat("unknown architecture '", model_type,
                                   "' (supported: llama, qwen2, phi)"));
  }
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "vocab_size", &c.vocab_size));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "hidden_size", &c.hidden_size));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "intermediate_size", &c.intermediate_size));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "num_hidden_layers", &c.num_layers));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "num_attention_heads", &c.num_heads));
  c.num_kv_heads = c.num_heads;
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "num_key_value_heads", &c.num_kv_heads));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "max_position_embeddings", &c.max_position_embeddings));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "vocab_size", c.vocab_size));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "hidden_size", c.hidden_size));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "intermediate_size", c.intermediate_size));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "num_hidden_layers", c.num_layers));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "num_attention_heads", c.num_heads));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "num_key_value_heads", c.num_kv_heads));
  if (c.num_heads % c.num_kv_heads != 0) {
    return FieldError(path, "num_key_value_heads", "must divide num_attention_heads");
  }
  c.head_dim = c.hidden_size / c.num_heads;
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "head_dim", &c.head_dim));
  LLMQ_RETURN_IF_ERROR(RequirePositive(path, "head_dim", c.head_dim));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "rms_norm_eps", &c.norm_eps));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "layer_norm_eps", &c.norm_eps));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "rope_theta", &c.rope_theta));
  LLMQ_RETURN_IF_ERROR(ReadNumber(j, path, "partial_rotary_factor", &c.partial_rotary_factor));
  if (c.arch == Architecture::kLlama) {
    LLMQ_RETURN_IF_ERROR(ReadBool(j, path, "attention_bias", &c.attention_bias));
    c.output_bias = c.attention_bias;
    LLMQ_RETURN_IF_ERROR(ReadBool(j, path, "mlp_bias", &c.mlp_bias));
  }
  if (c.arch == Architecture::kPhi) {
    if (j.value("qk_layernorm", false)) {
      return FieldError(path, "qk_layernorm", "phi with qk_layernorm is not supported");
    }
  }
  LLMQ_RETURN_IF_ERROR(ReadBool(j, path, "tie_word_embeddings", &c.tie_word_embeddings));
  if (auto it = j.find("hidden_act"); it != j.end() && it->is_string()) {
    c.hidden_act = it->get<std::string>();
  }
  if (c.hidden_act == "gelu_pytorch_tanh") c.hidden_act = "gelu_new";
  if (c.hidden_act != "silu" && c.hidden_act != "gelu_new") {
    return FieldError(path, "hidden_act",
                      absl::StrCat("unsupported activation '", c.hidden_act,
                                   "' (supported: silu, gelu_new)"));
  }
  LLMQ_RETURN_IF_ERROR(ReadTokenId(j, path, "bos_token_id", &c.bos_token_id));
  LLMQ_RETURN_IF_ERROR(ReadTokenId(j, path, "eos_token_id", &c.eos_token_id));
  if (auto it = j.find("torch_dtype"); it != j.end() && it->is_string()) {
    c.torch_dtype = it->get<std::string>();
  } else if (auto dt = j.find("dtype"); dt != j.end() && dt->is_string()) {
    c.torch_dtype = dt->get<std::string>();
  }
  // transformers >= 5 writes rope_theta, the scaling and partial_rotary_factor inside
  // one rope_parameters object; older configs keep them at the top level.
  const Json* rope = nullptr;
  if (auto it = j.find("rope_parameters"); it != j.end() && it->is_object()) {
    rope = &*it;
    LLMQ_RETURN_IF_ERROR(ReadNumber(*rope, path, "rope_theta", &c.rope_theta));
    LLMQ_RETURN_IF_ERROR(ReadNumber(*rope, path, "partial_rotary_factor", &c.partial_rotary_factor));
  } else if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    rope = &*it;
  }
  if (rope != nullptr) {
    const auto it = rope;
    if (!it->is_object()) return FieldError(path, "rope_scaling", "expected an object or null");
    const std::string type = it->value("rope_type", it->value("type", ""));
    if (type == "llama3") {
      Llama3RopeScaling s;
      LLMQ_RETURN_IF_ERROR(ReadNumber(*it, path, "factor", &s.factor));
      LLMQ_RETURN_IF_ERROR(ReadNumber(*it, path, "low_freq_factor", &s.low_freq_factor));
      LLMQ_RETURN_IF_ERROR(ReadNumber(*it, path, "high_freq_factor", &s.high_freq_factor));
      LLMQ_RETURN_IF_ERROR(ReadNumber(*it, path, "original_max_position_embeddings",
                                      &s.original_max_position_embeddings));
      c.llama3_rope_scaling = s;
    } else if (type != "default" && !type.empty()) {
      return FieldError(path, "rope_scaling.rope_type",
                        absl::StrCat("unsupported rope scaling '", type,
                                     "' (supported: llama3, default)"));
    }
  }
  if (c.partial_rotary_factor <= 0 || c.partial_rotary_factor > 1) {
    return FieldError(path, "partial_rotary_factor", "expected a value in (0, 1]");
  }
  return c;
}

}  // namespace

std::string ArchitectureName(Architecture arch) {
  switch (arch) {
    case Architecture::kLlama: return "llama";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kPhi: return "phi";
  }
  return "unknown";
}

absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text,
                                          const std::string& path_for_errors) {
  Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path_for_errors, ": not valid JSON"));
  }
  return CatchExceptions(path_for_errors,
                         [&]() -> absl::StatusOr<ModelConfig> { return ParseFromJson(j, path_for_errors); });
}

absl::StatusOr<ModelConfig> LoadHfConfig(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseHfConfig(text, path);
}

}  // namespace llmq
