// The split regexes of Hugging Face pre-tokenizers (written for Oniguruma) run with RE2.
//
// Two differences are bridged. (1) `\s`, `\d` and `\w` mean Unicode classes in Oniguruma
// but ASCII ones in RE2, so they are rewritten as explicit Unicode classes. (2) RE2 has no
// lookahead; the one every byte-level tokenizer uses, `\s+(?!\S)|\s+` (GPT-2, Llama-3,
// Qwen2, tiktoken's cl100k/o200k), is matched as a plain `\s+` whose last character is given
// back when the run is longer than one character and followed by a non-space, which is
// exactly what the backtracking lookahead does. Any other lookaround is refused.
#ifndef LLMQ_TOKENIZER_PRETOKENIZER_REGEX_H_
#define LLMQ_TOKENIZER_PRETOKENIZER_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace llmq {

// GPT-2's pattern, which the ByteLevel pre-tokenizer uses when `use_regex` is set.
extern const char kGpt2SplitPattern[];

class PreTokenizerRegex {
 public:
  // Errors (unsupported syntax, RE2 compile errors) say what was refused.
  static absl::StatusOr<std::shared_ptr<const PreTokenizerRegex>> Compile(
      absl::string_view pattern);
  ~PreTokenizerRegex();

  // The non-overlapping matches of the pattern in `text`, left to right, as byte ranges
  // [begin, end); empty matches are left out.
  std::vector<std::pair<size_t, size_t>> FindAll(absl::string_view text) const;

  // The RE2 form of `pattern` (for tests); `*whitespace_lookahead` tells whether the
  // `\s+(?!\S)` emulation is needed.
  static absl::StatusOr<std::string> TranslateToRe2(absl::string_view pattern,
                                                   bool* whitespace_lookahead);

 private:
  PreTokenizerRegex(std::unique_ptr<re2::RE2> re, int whitespace_group);
  std::unique_ptr<re2::RE2> re_;
  int whitespace_group_;  // capture group of the emulated `\s+(?!\S)`, or -1
};

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_PRETOKENIZER_REGEX_H_
