// The added tokens of a Hugging Face tokenizer.json (special tokens such as
// `<|endoftext|>`, and plain ones such as phi-2's runs of spaces). They are cut out of the
// text before normalization and pre-tokenization, as HF's AddedVocabulary does: tokens with
// `normalized: false` are matched in the raw text, then the rest is normalized and tokens
// with `normalized: true` are matched in it; at each position the longest token wins
// (leftmost-longest). `lstrip`/`rstrip` absorb the whitespace beside a match and
// `single_word` refuses matches inside a word.
#ifndef LLMQ_TOKENIZER_ADDED_VOCABULARY_H_
#define LLMQ_TOKENIZER_ADDED_VOCABULARY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/string_view.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_pre_tokenizer.h"

namespace llmq {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) gives the form in which normalized tokens are matched; it
  // must outlive this object.
  AddedVocabulary(std::vector<AddedToken> tokens, const HfNormalizer* normalizer);
  ~AddedVocabulary();

  // One part of a text: an added token (id >= 0) or normalized text to pre-tokenize.
  struct Segment {
    PreToken text;
    int32_t id = -1;
  };
  std::vector<Segment> Split(absl::string_view text) const;

  const AddedToken* Find(int32_t id) const;         // null if `id` is not an added token
  std::optional<int32_t> FindId(const std::string& content) const;
  // The string HF decodes for `id`: the content, normalized for normalized tokens.
  const std::string* DecodedContent(int32_t id) const;
  int32_t max_id() const;  // -1 when empty

 private:
  class Trie;
  void SplitWith(const Trie& trie, Segment segment, std::vector<Segment>* out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> index_of_id_;
  std::vector<std::string> decoded_content_;  // parallel to tokens_
  const HfNormalizer* normalizer_;
  std::unique_ptr<Trie> raw_trie_;         // tokens with normalized == false
  std::unique_ptr<Trie> normalized_trie_;  // tokens with normalized == true
};

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_ADDED_VOCABULARY_H_
