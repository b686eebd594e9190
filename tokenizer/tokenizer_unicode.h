// UTF-8 helpers shared by the tokenizers. Text reaches the tokenizers as bytes that are
// usually, but not always, valid UTF-8: a byte that does not start a valid sequence counts
// as one character of its own, so no input is rejected and every byte is kept.
#ifndef LLMQ_TOKENIZER_TOKENIZER_UNICODE_H_
#define LLMQ_TOKENIZER_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace llmq {

// Byte length (1..4) of the character starting at `text[pos]`; 1 for an invalid byte.
size_t Utf8CharLength(absl::string_view text, size_t pos);

// The code point starting at `text[pos]` and its byte length; an invalid byte decodes
// as U+FFFD with length 1.
char32_t DecodeUtf8(absl::string_view text, size_t pos, size_t* length);

void AppendUtf8(char32_t code_point, std::string* out);

// White_Space as Oniguruma and Rust's `char::is_whitespace` define it (what `\s` means in
// Hugging Face's regexes): tab..carriage return, space, U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool IsUnicodeWhitespace(char32_t code_point);

// Replaces every occurrence of `from` in `text` (non-overlapping, left to right).
std::string ReplaceAll(absl::string_view text, absl::string_view from, absl::string_view to);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_TOKENIZER_UNICODE_H_
