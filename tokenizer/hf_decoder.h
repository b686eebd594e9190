// Decoders of Hugging Face tokenizer.json: ByteLevel, Metaspace, Replace, ByteFallback,
// Fuse, Strip and Sequence. As in HF, each decoder maps the list of token strings to a new
// list and the final list is concatenated.
#ifndef LLMQ_TOKENIZER_HF_DECODER_H_
#define LLMQ_TOKENIZER_HF_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

class HfDecoder {
 public:
  virtual ~HfDecoder() = default;
  virtual void DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// Null JSON gives a null decoder (HF then joins tokens with spaces). Errors name the
// unsupported part.
absl::StatusOr<std::unique_ptr<HfDecoder>> ParseHfDecoder(const nlohmann::json& json);

// `bytes` as valid UTF-8, each maximal invalid subsequence replaced by U+FFFD, as Rust's
// String::from_utf8_lossy does.
std::string Utf8Lossy(absl::string_view bytes);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_HF_DECODER_H_
