#include "tokenizer/hf_normalizer.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/tokenizer_nfc.h"
#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

class SequenceNormalizer : public HfNormalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<HfNormalizer>> parts)
      : parts_(std::move(parts)) {}
  void Normalize(std::string* text) const override {
    for (const auto& part : parts_) part->Normalize(text);
  }

 private:
  std::vector<std::unique_ptr<HfNormalizer>> parts_;
};

class PrependNormalizer : public HfNormalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public HfNormalizer {
 public:
  ReplaceNormalizer(std::string literal, std::shared_ptr<const PreTokenizerRegex> regex,
                    std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  void Normalize(std::string* text) const override {
    if (regex_ == nullptr) {
      *text = ReplaceAll(*text, literal_, content_);
      return;
    }
    std::string out;
    size_t pos = 0;
    for (const auto& [begin, end] : regex_->FindAll(*text)) {
      out.append(*text, pos, begin - pos);
      out += content_;
      pos = end;
    }
    out.append(*text, pos, std::string::npos);
    *text = std::move(out);
  }

 private:
  std::string literal_;
  std::shared_ptr<const PreTokenizerRegex> regex_;  // null: replace `literal_`
  std::string content_;
};

class StripNormalizer : public HfNormalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void Normalize(std::string* text) const override {
    size_t begin = 0;
    size_t end = text->size();
    size_t length;
    while (left_ && begin < end && IsUnicodeWhitespace(DecodeUtf8(*text, begin, &length))) {
      begin += length;
    }
    while (right_ && end > begin) {
      size_t last = end - 1;
      while (last > begin && (static_cast<unsigned char>((*text)[last]) & 0xC0) == 0x80) --last;
      if (!IsUnicodeWhitespace(DecodeUtf8(*text, last, &length))) break;
      end = last;
    }
    *text = text->substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class NfcNormalizer : public HfNormalizer {
 public:
  void Normalize(std::string* text) const override { *text = ToNfc(*text); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<HfNormalizer>> ParseHfNormalizer(const nlohmann::json& json) {
  if (json.is_null()) return std::unique_ptr<HfNormalizer>();
  const std::string type = JsonType(json);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<HfNormalizer>> parts;
    for (const nlohmann::json& part : json.at("normalizers")) {
      LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfNormalizer> parsed, ParseHfNormalizer(part));
      if (parsed != nullptr) parts.push_back(std::move(parsed));
    }
    return std::unique_ptr<HfNormalizer>(new SequenceNormalizer(std::move(parts)));
  }
  if (type == "Prepend") {
    return std::unique_ptr<HfNormalizer>(
        new PrependNormalizer(json.at("prepend").get<std::string>()));
  }
  if (type == "Replace") {
    const nlohmann::json& pattern = json.at("pattern");
    std::string content = json.at("content").get<std::string>();
    if (std::optional<std::string> literal = JsonField<std::string>(pattern, "String")) {
      return std::unique_ptr<HfNormalizer>(
          new ReplaceNormalizer(*literal, nullptr, std::move(content)));
    }
    LLMQ_ASSIGN_OR_RETURN(auto regex,
                          PreTokenizerRegex::Compile(pattern.at("Regex").get<std::string>()));
    return std::unique_ptr<HfNormalizer>(
        new ReplaceNormalizer("", std::move(regex), std::move(content)));
  }
  if (type == "Strip") {
    return std::unique_ptr<HfNormalizer>(new StripNormalizer(
        JsonFieldOr(json, "strip_left", true), JsonFieldOr(json, "strip_right", true)));
  }
  if (type == "NFC") return std::unique_ptr<HfNormalizer>(new NfcNormalizer());
  return absl::UnimplementedError(absl::StrCat("normalizer type \"", type, "\" is not supported"));
}

}  // namespace llmq
