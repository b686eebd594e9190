#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

struct ByteLevelAlphabet {
  std::array<char32_t, 256> char_of_byte;
  std::array<int16_t, 512> byte_of_char;  // code points below 512; -1 = not in the alphabet

  ByteLevelAlphabet() {
    byte_of_char.fill(-1);
    char32_t next_unprintable = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      char_of_byte[b] = printable ? static_cast<char32_t>(b) : next_unprintable++;
      byte_of_char[char_of_byte[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelAlphabet& Alphabet() {
  static const ByteLevelAlphabet* alphabet = new ByteLevelAlphabet();
  return *alphabet;
}

}  // namespace

std::string BytesToByteLevel(absl::string_view bytes) {
  const ByteLevelAlphabet& alphabet = Alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendUtf8(alphabet.char_of_byte[b], &out);
  return out;
}

bool ByteLevelToBytes(absl::string_view token, std::string* bytes) {
  const ByteLevelAlphabet& alphabet = Alphabet();
  const size_t start = bytes->size();
  for (size_t pos = 0; pos < token.size();) {
    size_t length;
    const char32_t c = DecodeUtf8(token, pos, &length);
    if (c >= 512 || alphabet.byte_of_char[c] < 0) {  // includes invalid UTF-8 (U+FFFD)
      bytes->resize(start);
      return false;
    }
    bytes->push_back(static_cast<char>(alphabet.byte_of_char[c]));
    pos += length;
  }
  return true;
}

}  // namespace llmq
