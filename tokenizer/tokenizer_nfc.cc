#include "tokenizer/tokenizer_nfc.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer_nfc_data.h"
#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

// Hangul syllables (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;
// An invalid byte b travels through the algorithm as kRawByte + b: a starter that never
// composes.
constexpr char32_t kRawByte = 0x110000;

struct NfcTables {
  std::unordered_map<char32_t, std::pair<char32_t, char32_t>> decomposition;
  std::unordered_map<uint64_t, char32_t> composition;  // (first << 32 | second) -> composite

  NfcTables() {
    decomposition.reserve(kCanonicalDecompositionCount);
    for (size_t i = 0; i < kCanonicalDecompositionCount; ++i) {
      const CanonicalDecomposition& d = kCanonicalDecompositions[i];
      const char32_t cp = d.code_point & ~kComposableFlag;
      decomposition[cp] = {d.first, d.second};
      if (d.code_point & kComposableFlag) composition[Key(d.first, d.second)] = cp;
    }
  }
  static uint64_t Key(char32_t a, char32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
};

const NfcTables& Tables() {
  static const NfcTables* tables = new NfcTables();
  return *tables;
}

uint32_t CombiningClass(char32_t cp) {
  if (cp < 0x300 || cp >= kRawByte) return 0;
  const CombiningClassRun* end = kCombiningClassRuns + kCombiningClassRunCount;
  const CombiningClassRun* run = std::upper_bound(
      kCombiningClassRuns, end, cp,
      [](char32_t value, const CombiningClassRun& r) { return value < r.first; });
  if (run == kCombiningClassRuns) return 0;
  --run;
  return cp <= run->last ? run->combining_class : 0;
}

void Decompose(char32_t cp, std::vector<char32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const auto& table = Tables().decomposition;
  auto it = table.find(cp);
  if (it == table.end()) {
    out->push_back(cp);
    return;
  }
  Decompose(it->second.first, out);
  if (it->second.second != 0) Decompose(it->second.second, out);
}

// The primary composite of `first` + `second`, or 0.
char32_t Compose(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  const auto& table = Tables().composition;
  auto it = table.find(NfcTables::Key(first, second));
  return it == table.end() ? 0 : it->second;
}

}  // namespace

std::string ToNfc(absl::string_view text) {
  // A lead byte below 0xCC starts a code point below U+0300.
  if (std::none_of(text.begin(), text.end(),
                   [](char c) { return static_cast<unsigned char>(c) >= 0xCC; })) {
    return std::string(text);
  }
  std::vector<char32_t> decomposed;
  for (size_t pos = 0; pos < text.size();) {
    size_t length;
    char32_t cp = DecodeUtf8(text, pos, &length);
    if (cp == 0xFFFD && length == 1 && static_cast<unsigned char>(text[pos]) >= 0x80) {
      cp = kRawByte + static_cast<unsigned char>(text[pos]);
    }
    Decompose(cp, &decomposed);
    pos += length;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < decomposed.size();) {
    if (CombiningClass(decomposed[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < decomposed.size() && CombiningClass(decomposed[end]) != 0) ++end;
    std::stable_sort(decomposed.begin() + i, decomposed.begin() + end,
                     [](char32_t a, char32_t b) { return CombiningClass(a) < CombiningClass(b); });
    i = end;
  }

  // Canonical composition: a character joins the last starter unless blocked (a character
  // between them has a class of zero or at least its own).
  std::vector<char32_t> composed;
  composed.reserve(decomposed.size());
  ptrdiff_t starter = -1;
  uint32_t last_class = 0;
  for (char32_t cp : decomposed) {
    const uint32_t cls = CombiningClass(cp);
    const bool adjacent = starter >= 0 && static_cast<size_t>(starter) + 1 == composed.size();
    if (starter >= 0 && (adjacent || (last_class != 0 && last_class < cls))) {
      if (char32_t composite = Compose(composed[starter], cp)) {
        composed[starter] = composite;
        continue;
      }
    }
    if (cls == 0) starter = static_cast<ptrdiff_t>(composed.size());
    last_class = cls;
    composed.push_back(cp);
  }

  std::string out;
  out.reserve(text.size());
  for (char32_t cp : composed) {
    if (cp >= kRawByte) {
      out.push_back(static_cast<char>(cp - kRawByte));
    } else {
      AppendUtf8(cp, &out);
    }
  }
  return out;
}

}  // namespace llmq
