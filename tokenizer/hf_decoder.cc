#include "tokenizer/hf_decoder.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

class SequenceDecoder : public HfDecoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<HfDecoder>> parts)
      : parts_(std::move(parts)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& part : parts_) part->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<HfDecoder>> parts_;
};

// Maps byte-level characters back to bytes; a token with a character outside the alphabet
// (an added token such as a run of spaces) keeps its own bytes.
class ByteLevelDecoder : public HfDecoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& token : *tokens) {
      if (!ByteLevelToBytes(token, &bytes)) bytes += token;
    }
    *tokens = {Utf8Lossy(bytes)};
  }
};

class MetaspaceDecoder : public HfDecoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_first)
      : replacement_(std::move(replacement)), drop_first_(drop_first) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      (*tokens)[i] = ReplaceAll((*tokens)[i], replacement_, i == 0 && drop_first_ ? "" : " ");
    }
  }

 private:
  std::string replacement_;
  bool drop_first_;  // the first token's replacement characters were prepended: drop them
};

class ReplaceDecoder : public HfDecoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) token = ReplaceAll(token, from_, to_);
  }

 private:
  std::string from_;
  std::string to_;
};

// Runs of `<0xXX>` tokens become their bytes when those form valid UTF-8, else one U+FFFD
// per byte.
class ByteFallbackDecoder : public HfDecoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    size_t byte_count = 0;
    const auto flush = [&] {
      if (byte_count == 0) return;
      if (Utf8Lossy(bytes) == bytes) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < byte_count; ++i) out.push_back(kReplacementCharacter);
      }
      bytes.clear();
      byte_count = 0;
    };
    for (std::string& token : *tokens) {
      int value;
      if (ParseBytePiece(token, &value)) {
        bytes.push_back(static_cast<char>(value));
        ++byte_count;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    *tokens = std::move(out);
  }

 private:
  static bool ParseBytePiece(const std::string& token, int* value) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return false;
    *value = 0;
    for (char c : token.substr(3, 2)) {
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                               : -1;
      if (digit < 0) return false;
      *value = *value * 16 + digit;
    }
    return true;
  }
};

class FuseDecoder : public HfDecoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string joined;
    for (const std::string& token : *tokens) joined += token;
    *tokens = {std::move(joined)};
  }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each token.
class StripDecoder : public HfDecoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    if (content_.empty()) return;
    for (std::string& token : *tokens) {
      absl::string_view view(token);
      for (size_t i = 0; i < start_ && absl::StartsWith(view, content_); ++i) {
        view.remove_prefix(content_.size());
      }
      for (size_t i = 0; i < stop_ && absl::EndsWith(view, content_); ++i) {
        view.remove_suffix(content_.size());
      }
      token = std::string(view);
    }
  }

 private:
  std::string content_;
  size_t start_;
  size_t stop_;
};

}  // namespace

std::string Utf8Lossy(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    const unsigned char lead = at(i);
    if (lead < 0x80) {
      out.push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
    size_t need;  // continuation bytes after the lead
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      out += kReplacementCharacter;
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && j - i <= need) {
      const bool second = j == i + 1;
      const unsigned char b = at(j);
      if (b < (second ? low : 0x80) || b > (second ? high : 0xBF)) break;
      ++j;
    }
    if (j - i == need + 1) {
      out.append(s.data() + i, j - i);
    } else {
      out += kReplacementCharacter;  // the maximal valid prefix counts as one error
    }
    i = j;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<HfDecoder>> ParseHfDecoder(const nlohmann::json& json) {
  if (json.is_null()) return std::unique_ptr<HfDecoder>();
  const std::string type = JsonType(json);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<HfDecoder>> parts;
    for (const nlohmann::json& part : json.at("decoders")) {
      LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfDecoder> parsed, ParseHfDecoder(part));
      if (parsed != nullptr) parts.push_back(std::move(parsed));
    }
    return std::unique_ptr<HfDecoder>(new SequenceDecoder(std::move(parts)));
  }
  if (type == "ByteLevel") return std::unique_ptr<HfDecoder>(new ByteLevelDecoder());
  if (type == "Metaspace") {
    std::string scheme = JsonFieldOr<std::string>(json, "prepend_scheme", "always");
    if (JsonField<bool>(json, "add_prefix_space") == false) scheme = "never";
    return std::unique_ptr<HfDecoder>(new MetaspaceDecoder(
        JsonFieldOr<std::string>(json, "replacement", "\xE2\x96\x81"), scheme != "never"));
  }
  if (type == "Replace") {
    std::optional<std::string> literal = JsonField<std::string>(json.at("pattern"), "String");
    if (!literal) return absl::UnimplementedError("Replace decoder with a regex pattern");
    return std::unique_ptr<HfDecoder>(
        new ReplaceDecoder(*literal, json.at("content").get<std::string>()));
  }
  if (type == "ByteFallback") return std::unique_ptr<HfDecoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<HfDecoder>(new FuseDecoder());
  if (type == "Strip") {
    return std::unique_ptr<HfDecoder>(new StripDecoder(json.at("content").get<std::string>(),
                                                       json.at("start").get<size_t>(),
                                                       json.at("stop").get<size_t>()));
  }
  return absl::UnimplementedError(absl::StrCat("decoder type \"", type, "\" is not supported"));
}

}  // namespace llmq
