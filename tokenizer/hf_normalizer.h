// Normalizers of Hugging Face tokenizer.json: Sequence, Prepend, Replace (string or
// regex), Strip, NFC. Other kinds are refused when parsed, never guessed at.
#ifndef LLMQ_TOKENIZER_HF_NORMALIZER_H_
#define LLMQ_TOKENIZER_HF_NORMALIZER_H_

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace llmq {

class HfNormalizer {
 public:
  virtual ~HfNormalizer() = default;
  virtual void Normalize(std::string* text) const = 0;
};

// Null JSON gives a null normalizer. Errors name the unsupported part.
absl::StatusOr<std::unique_ptr<HfNormalizer>> ParseHfNormalizer(const nlohmann::json& json);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_HF_NORMALIZER_H_
