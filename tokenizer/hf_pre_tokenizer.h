// Pre-tokenizers of Hugging Face tokenizer.json: Sequence, Metaspace, ByteLevel, Split
// (string or regex, any split behaviour, inverted or not) and Digits. Each splits every
// piece of text further (empty pieces are dropped) and may rewrite it (Metaspace replaces
// spaces with '▁', ByteLevel maps bytes to its alphabet).
#ifndef LLMQ_TOKENIZER_HF_PRE_TOKENIZER_H_
#define LLMQ_TOKENIZER_HF_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace llmq {

struct PreToken {
  std::string text;
  // Starts at the beginning of the input text (Metaspace's prepend_scheme "first" adds
  // its '▁' only there).
  bool at_start = false;
};

class HfPreTokenizer {
 public:
  virtual ~HfPreTokenizer() = default;
  virtual void PreTokenize(std::vector<PreToken>* pieces) const = 0;
  // Whether this maps text to the byte-level alphabet (then the decoder must map back).
  virtual bool IsByteLevel() const { return false; }
};

// Null JSON gives a null pre-tokenizer. Errors name the unsupported part.
absl::StatusOr<std::unique_ptr<HfPreTokenizer>> ParseHfPreTokenizer(const nlohmann::json& json);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_HF_PRE_TOKENIZER_H_
