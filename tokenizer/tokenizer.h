// Tokenizers: text <-> token ids. Three formats, one interface:
//   - llama2.c `tok*.bin` (its own encode: BOS, dummy-prefix space, byte fallback,
//     greedy merges by score),
//   - SentencePiece `.model` (libsentencepiece),
//   - Hugging Face `tokenizer.json` BPE: byte-level (GPT-2 / Llama-3 / Qwen2 / Phi) and
//     Metaspace with byte fallback (Llama-2 style), with added and special tokens, and
//     BOS/EOS per tokenizer_config.json.
// A Tokenizer is immutable after loading and safe to use from several threads.
#ifndef LLMQ_TOKENIZER_TOKENIZER_H_
#define LLMQ_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`. With `add_special`, the tokens the tokenizer's configuration adds
  // around a sequence (BOS for Llama-2 / llama2.c, nothing for GPT-2 / Phi) are added, as
  // Hugging Face's `encode(text, add_special_tokens=True)` does.
  virtual std::vector<int32_t> Encode(absl::string_view text, bool add_special) const = 0;

  // The text of `ids`, as Hugging Face's `decode(ids, skip_special_tokens=True)` gives it.
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  // Short description for provenance: "llama2c tok512.bin", "hf-bpe byte-level", ...
  virtual std::string Describe() const = 0;
};

// llama2.c's tokenizer file (`tok512.bin`): int32 max_token_length, then per token a
// float32 score, an int32 length and the bytes.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path);

// A SentencePiece model file (`tokenizer.model`).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path);

// A Hugging Face `tokenizer.json`; `config_path` (tokenizer_config.json, may be empty or
// missing) decides BOS/EOS addition where the tokenizer.json's post-processor does not.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& json_path,
                                                          const std::string& config_path);

// The tokenizer of a model directory: tokenizer.json if present, else tokenizer.model,
// else a llama2.c tok*.bin. Errors name the directory and what was looked for.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::string& dir);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_TOKENIZER_H_
