// Unicode tables for NFC (generated into tokenizer_nfc_data.cc by
// tests/scripts/gen_nfc_tables.py). Hangul syllables are algorithmic and not listed.
#ifndef LLMQ_TOKENIZER_TOKENIZER_NFC_DATA_H_
#define LLMQ_TOKENIZER_TOKENIZER_NFC_DATA_H_

#include <cstddef>
#include <cstdint>

namespace llmq {

// Code points first..last have canonical combining class `combining_class` (non-zero).
struct CombiningClassRun {
  uint32_t first;
  uint32_t last;
  uint32_t combining_class;
};

// The one-level canonical decomposition of a code point into `first` and `second` (0 for a
// singleton). The top bit of `code_point` is set when the pair composes back to it in NFC
// (a primary composite, not excluded from composition).
struct CanonicalDecomposition {
  uint32_t code_point;
  uint32_t first;
  uint32_t second;
};
constexpr uint32_t kComposableFlag = 0x80000000u;

extern const CombiningClassRun kCombiningClassRuns[];  // sorted by first
extern const size_t kCombiningClassRunCount;
extern const CanonicalDecomposition kCanonicalDecompositions[];
extern const size_t kCanonicalDecompositionCount;

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_TOKENIZER_NFC_DATA_H_
