// Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical
// composition; UAX #15), as the NFC normalizer of Qwen2's tokenizer.json needs. Bytes
// that are not valid UTF-8 pass through unchanged. Text made only of code points below
// U+0300 is already in NFC and is returned as is without table look-ups.
#ifndef LLMQ_TOKENIZER_TOKENIZER_NFC_H_
#define LLMQ_TOKENIZER_TOKENIZER_NFC_H_

#include <string>

#include "absl/strings/string_view.h"

namespace llmq {

std::string ToNfc(absl::string_view text);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_TOKENIZER_NFC_H_
