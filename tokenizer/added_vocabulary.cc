#include "tokenizer/added_vocabulary.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "tokenizer/tokenizer_unicode.h"

namespace llmq {
namespace {

// Rust regex's Unicode `\w`, which HF's single_word check uses.
bool IsWordCharacter(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  static const RE2* word = new RE2(R"([\p{L}\p{M}\p{Nd}\p{Pc}\p{Nl}\x{200C}\x{200D}])");
  std::string utf8;
  AppendUtf8(cp, &utf8);
  return RE2::FullMatch(utf8, *word);
}

char32_t LastCharacter(absl::string_view text) {
  size_t last = text.size() - 1;
  while (last > 0 && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
  size_t length;
  return DecodeUtf8(text, last, &length);
}

}  // namespace

// A byte trie over token contents, answering "the longest token starting here".
class AddedVocabulary::Trie {
 public:
  void Insert(absl::string_view content, size_t token_index) {
    if (content.empty()) return;
    first_byte_[static_cast<unsigned char>(content[0])] = true;
    size_t node = 0;
    for (unsigned char byte : content) {
      auto it = nodes_[node].children.find(byte);
      if (it == nodes_[node].children.end()) {
        it = nodes_[node].children.emplace(byte, nodes_.size()).first;
        nodes_.emplace_back();
      }
      node = it->second;
    }
    nodes_[node].token_index = static_cast<int64_t>(token_index);
  }

  // Sets the token index and byte length of the longest token at `text[pos]`.
  bool LongestAt(absl::string_view text, size_t pos, size_t* token_index, size_t* length) const {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) return false;
    bool found = false;
    size_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      auto it = nodes_[node].children.find(static_cast<unsigned char>(text[i]));
      if (it == nodes_[node].children.end()) break;
      node = it->second;
      if (nodes_[node].token_index >= 0) {
        found = true;
        *token_index = static_cast<size_t>(nodes_[node].token_index);
        *length = i + 1 - pos;
      }
    }
    return found;
  }

  bool empty() const { return nodes_.size() == 1; }

 private:
  struct Node {
    std::map<unsigned char, size_t> children;
    int64_t token_index = -1;
  };
  std::vector<Node> nodes_ = std::vector<Node>(1);
  std::array<bool, 256> first_byte_{};
};

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const HfNormalizer* normalizer)
    : tokens_(std::move(tokens)),
      normalizer_(normalizer),
      raw_trie_(new Trie()),
      normalized_trie_(new Trie()) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    index_of_id_[token.id] = i;
    std::string content = token.content;
    if (token.normalized && normalizer_ != nullptr) normalizer_->Normalize(&content);
    decoded_content_.push_back(content);
    (token.normalized ? normalized_trie_ : raw_trie_)->Insert(content, i);
  }
}

AddedVocabulary::~AddedVocabulary() = default;

const AddedToken* AddedVocabulary::Find(int32_t id) const {
  auto it = index_of_id_.find(id);
  return it == index_of_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::FindId(const std::string& content) const {
  // A repeated content maps to its last id, as HF's map does.
  for (auto it = tokens_.rbegin(); it != tokens_.rend(); ++it) {
    if (it->content == content) return it->id;
  }
  return std::nullopt;
}

const std::string* AddedVocabulary::DecodedContent(int32_t id) const {
  auto it = index_of_id_.find(id);
  return it == index_of_id_.end() ? nullptr : &decoded_content_[it->second];
}

int32_t AddedVocabulary::max_id() const {
  int32_t max_id = -1;
  for (const AddedToken& token : tokens_) max_id = std::max(max_id, token.id);
  return max_id;
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::Split(absl::string_view text) const {
  std::vector<Segment> raw;
  SplitWith(*raw_trie_, Segment{PreToken{std::string(text), true}, -1}, &raw);
  std::vector<Segment> out;
  for (Segment& segment : raw) {
    if (segment.id >= 0) {
      out.push_back(std::move(segment));
      continue;
    }
    if (normalizer_ != nullptr) normalizer_->Normalize(&segment.text.text);
    SplitWith(*normalized_trie_, std::move(segment), &out);
  }
  return out;
}

void AddedVocabulary::SplitWith(const Trie& trie, Segment segment,
                                std::vector<Segment>* out) const {
  const std::string& text = segment.text.text;
  const bool at_start = segment.text.at_start;
  const auto emit_text = [&](size_t begin, size_t end) {
    if (begin < end) {
      out->push_back(Segment{PreToken{text.substr(begin, end - begin), at_start && begin == 0}, -1});
    }
  };
  if (trie.empty()) {
    emit_text(0, text.size());
    return;
  }
  size_t done = 0;  // text before this offset has been emitted
  size_t pos = 0;
  while (pos < text.size()) {
    size_t index, length;
    if (!trie.LongestAt(text, pos, &index, &length)) {
      pos += 1;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t begin = pos;
    size_t end = pos + length;
    pos = end;
    if (token.single_word) {
      size_t unused;
      const bool space_before = begin == 0 || !IsWordCharacter(LastCharacter(
                                                  absl::string_view(text).substr(0, begin)));
      const bool space_after = end == text.size() || !IsWordCharacter(DecodeUtf8(text, end, &unused));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      while (begin > done) {
        const char32_t c = LastCharacter(absl::string_view(text).substr(0, begin));
        if (!IsUnicodeWhitespace(c)) break;
        size_t last = begin - 1;
        while (last > 0 && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
        begin = last;
      }
    }
    if (token.rstrip) {
      size_t length_of_space;
      while (end < text.size() && IsUnicodeWhitespace(DecodeUtf8(text, end, &length_of_space))) {
        end += length_of_space;
      }
      pos = end;
    }
    emit_text(done, begin);
    out->push_back(Segment{PreToken{text.substr(begin, end - begin), at_start && begin == 0},
                           token.id});
    done = end;
  }
  emit_text(done, text.size());
}

}  // namespace llmq
