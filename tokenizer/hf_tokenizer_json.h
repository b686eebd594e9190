// Small accessors for tokenizer.json fields, which are often present but null. A field of
// the wrong type throws nlohmann's type_error, which the loader turns into a Status.
#ifndef LLMQ_TOKENIZER_HF_TOKENIZER_JSON_H_
#define LLMQ_TOKENIZER_HF_TOKENIZER_JSON_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace llmq {

// `object[key]` as T; nullopt when the key is absent or null.
template <typename T>
std::optional<T> JsonField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->template get<T>();
}

template <typename T>
T JsonFieldOr(const nlohmann::json& object, const char* key, T fallback) {
  std::optional<T> value = JsonField<T>(object, key);
  return value ? *value : fallback;
}

// The "type" of a tokenizer.json component ("" when absent).
inline std::string JsonType(const nlohmann::json& object) {
  return JsonFieldOr<std::string>(object, "type", "");
}

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_HF_TOKENIZER_JSON_H_
