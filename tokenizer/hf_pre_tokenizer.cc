#include "tokenizer/hf_pre_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

absl::StatusOr<SplitBehavior> ParseSplitBehavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return absl::UnimplementedError(absl::StrCat("split behavior \"", name, "\" is not supported"));
}

// Splits `piece` around `matches` (sorted, non-overlapping byte ranges) as HF's
// NormalizedString::split does, appending the non-empty parts to `out`.
void SplitAround(PreToken piece, const Ranges& matches, bool invert, SplitBehavior behavior,
                 std::vector<PreToken>* out) {
  struct Part {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Part> parts;
  size_t previous = 0;
  for (const auto& [begin, end] : matches) {
    if (previous != begin) parts.push_back({previous, begin, invert});
    parts.push_back({begin, end, !invert});
    previous = end;
  }
  if (previous != piece.text.size()) parts.push_back({previous, piece.text.size(), invert});

  std::vector<Part> kept;  // with is_match now meaning "remove"
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      kept = parts;
      break;
    case SplitBehavior::kIsolated:
      for (Part p : parts) kept.push_back({p.begin, p.end, false});
      break;
    case SplitBehavior::kContiguous:
      for (const Part& p : parts) {
        if (p.is_match == previous_match && !kept.empty()) {
          kept.back().end = p.end;
        } else {
          kept.push_back({p.begin, p.end, false});
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& p : parts) {
        if (p.is_match && !previous_match && !kept.empty()) {
          kept.back().end = p.end;
        } else {
          kept.push_back({p.begin, p.end, false});
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back({it->begin, it->end, false});
        }
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Part& p : kept) {
    if (p.is_match || p.begin == p.end) continue;
    out->push_back({piece.text.substr(p.begin, p.end - p.begin), piece.at_start && p.begin == 0});
  }
}

// Applies `split` to every piece.
template <typename Fn>
void SplitEach(std::vector<PreToken>* pieces, Fn split) {
  std::vector<PreToken> out;
  out.reserve(pieces->size());
  for (PreToken& piece : *pieces) split(std::move(piece), &out);
  *pieces = std::move(out);
}

Ranges FindLiteral(const std::string& text, const std::string& literal) {
  Ranges matches;
  if (literal.empty()) return matches;
  for (size_t pos = text.find(literal); pos != std::string::npos;
       pos = text.find(literal, pos + literal.size())) {
    matches.emplace_back(pos, pos + literal.size());
  }
  return matches;
}

class SequencePreTokenizer : public HfPreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<HfPreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void PreTokenize(std::vector<PreToken>* pieces) const override {
    for (const auto& part : parts_) part->PreTokenize(pieces);
  }
  bool IsByteLevel() const override {
    for (const auto& part : parts_) {
      if (part->IsByteLevel()) return true;
    }
    return false;
  }

 private:
  std::vector<std::unique_ptr<HfPreTokenizer>> parts_;
};

class MetaspacePreTokenizer : public HfPreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void PreTokenize(std::vector<PreToken>* pieces) const override {
    SplitEach(pieces, [this](PreToken piece, std::vector<PreToken>* out) {
      piece.text = ReplaceAll(piece.text, " ", replacement_);
      const bool starts_with = piece.text.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts_with && (prepend_ == Prepend::kAlways ||
                           (prepend_ == Prepend::kFirst && piece.at_start))) {
        piece.text.insert(0, replacement_);
      }
      if (!split_) {
        if (!piece.text.empty()) out->push_back(std::move(piece));
        return;
      }
      const Ranges matches = FindLiteral(piece.text, replacement_);
      SplitAround(std::move(piece), matches, false, SplitBehavior::kMergedWithNext, out);
    });
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class ByteLevelPreTokenizer : public HfPreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::shared_ptr<const PreTokenizerRegex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  void PreTokenize(std::vector<PreToken>* pieces) const override {
    SplitEach(pieces, [this](PreToken piece, std::vector<PreToken>* out) {
      if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' ')) {
        piece.text.insert(0, " ");
      }
      const size_t first = out->size();
      if (regex_ != nullptr) {
        const Ranges matches = regex_->FindAll(piece.text);
        SplitAround(std::move(piece), matches, false, SplitBehavior::kIsolated, out);
      } else if (!piece.text.empty()) {
        out->push_back(std::move(piece));
      }
      for (size_t i = first; i < out->size(); ++i) {
        (*out)[i].text = BytesToByteLevel((*out)[i].text);
      }
    });
  }
  bool IsByteLevel() const override { return true; }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const PreTokenizerRegex> regex_;  // null: no split (use_regex false)
};

class SplitPreTokenizer : public HfPreTokenizer {
 public:
  SplitPreTokenizer(std::string literal, std::shared_ptr<const PreTokenizerRegex> regex,
                    SplitBehavior behavior, bool invert)
      : literal_(std::move(literal)), regex_(std::move(regex)), behavior_(behavior),
        invert_(invert) {}
  void PreTokenize(std::vector<PreToken>* pieces) const override {
    SplitEach(pieces, [this](PreToken piece, std::vector<PreToken>* out) {
      const Ranges matches =
          regex_ != nullptr ? regex_->FindAll(piece.text) : FindLiteral(piece.text, literal_);
      SplitAround(std::move(piece), matches, invert_, behavior_, out);
    });
  }

 private:
  std::string literal_;
  std::shared_ptr<const PreTokenizerRegex> regex_;  // null: split on `literal_`
  SplitBehavior behavior_;
  bool invert_;
};

absl::StatusOr<std::unique_ptr<HfPreTokenizer>> ParseMetaspace(const nlohmann::json& json) {
  // Older files say add_prefix_space instead of prepend_scheme (default "always").
  std::string scheme = JsonFieldOr<std::string>(json, "prepend_scheme", "always");
  if (JsonField<bool>(json, "add_prefix_space") == false) scheme = "never";
  MetaspacePreTokenizer::Prepend prepend;
  if (scheme == "always") {
    prepend = MetaspacePreTokenizer::Prepend::kAlways;
  } else if (scheme == "first") {
    prepend = MetaspacePreTokenizer::Prepend::kFirst;
  } else if (scheme == "never") {
    prepend = MetaspacePreTokenizer::Prepend::kNever;
  } else {
    return absl::UnimplementedError(absl::StrCat("Metaspace prepend_scheme \"", scheme, "\""));
  }
  return std::unique_ptr<HfPreTokenizer>(new MetaspacePreTokenizer(
      JsonFieldOr<std::string>(json, "replacement", "\xE2\x96\x81"), prepend,
      JsonFieldOr(json, "split", true)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HfPreTokenizer>> ParseHfPreTokenizer(const nlohmann::json& json) {
  if (json.is_null()) return std::unique_ptr<HfPreTokenizer>();
  const std::string type = JsonType(json);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<HfPreTokenizer>> parts;
    for (const nlohmann::json& part : json.at("pretokenizers")) {
      LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfPreTokenizer> parsed, ParseHfPreTokenizer(part));
      if (parsed != nullptr) parts.push_back(std::move(parsed));
    }
    return std::unique_ptr<HfPreTokenizer>(new SequencePreTokenizer(std::move(parts)));
  }
  if (type == "Metaspace") return ParseMetaspace(json);
  if (type == "ByteLevel") {
    std::shared_ptr<const PreTokenizerRegex> regex;
    if (JsonFieldOr(json, "use_regex", true)) {
      LLMQ_ASSIGN_OR_RETURN(regex, PreTokenizerRegex::Compile(kGpt2SplitPattern));
    }
    return std::unique_ptr<HfPreTokenizer>(
        new ByteLevelPreTokenizer(JsonFieldOr(json, "add_prefix_space", true), std::move(regex)));
  }
  if (type == "Split") {
    LLMQ_ASSIGN_OR_RETURN(const SplitBehavior behavior,
                          ParseSplitBehavior(json.at("behavior").get<std::string>()));
    const bool invert = JsonFieldOr(json, "invert", false);
    const nlohmann::json& pattern = json.at("pattern");
    if (std::optional<std::string> literal = JsonField<std::string>(pattern, "String")) {
      return std::unique_ptr<HfPreTokenizer>(
          new SplitPreTokenizer(*literal, nullptr, behavior, invert));
    }
    LLMQ_ASSIGN_OR_RETURN(auto regex,
                          PreTokenizerRegex::Compile(pattern.at("Regex").get<std::string>()));
    return std::unique_ptr<HfPreTokenizer>(
        new SplitPreTokenizer("", std::move(regex), behavior, invert));
  }
  if (type == "Digits") {
    LLMQ_ASSIGN_OR_RETURN(auto regex, PreTokenizerRegex::Compile(R"(\p{N})"));
    const SplitBehavior behavior = JsonFieldOr(json, "individual_digits", false)
                                       ? SplitBehavior::kIsolated
                                       : SplitBehavior::kContiguous;
    return std::unique_ptr<HfPreTokenizer>(
        new SplitPreTokenizer("", std::move(regex), behavior, false));
  }
  return absl::UnimplementedError(
      absl::StrCat("pre_tokenizer type \"", type, "\" is not supported"));
}

}  // namespace llmq
