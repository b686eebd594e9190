// GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable code
// point ('!'..'~', U+00A1..U+00AC and U+00AE..U+00FF for themselves, the rest for U+0100
// upwards: space is 'Ġ' U+0120, newline 'Ċ' U+010A), so any byte string is a string of
// vocabulary characters.
#ifndef LLMQ_TOKENIZER_BYTE_LEVEL_H_
#define LLMQ_TOKENIZER_BYTE_LEVEL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace llmq {

// The byte-level characters (UTF-8) of `bytes`, one per byte.
std::string BytesToByteLevel(absl::string_view bytes);

// Appends the bytes that the byte-level characters of `token` stand for. Returns false,
// appending nothing, if some character of `token` is not in the alphabet.
bool ByteLevelToBytes(absl::string_view token, std::string* bytes);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_BYTE_LEVEL_H_
