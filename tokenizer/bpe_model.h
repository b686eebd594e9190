// The BPE model of Hugging Face tokenizers: a pre-tokenized word is split into characters
// (unknown ones into byte pieces `<0xXX>` with byte_fallback, else the unk token, else
// dropped), then adjacent symbols are merged by merge rank, lowest rank first and leftmost
// first among equal ranks, until no listed merge applies. Results for short words are
// cached. Immutable after Create and safe to use from several threads.
#ifndef LLMQ_TOKENIZER_BPE_MODEL_H_
#define LLMQ_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct BpeOptions {
  bool byte_fallback = false;
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  // Llama-3: a word that is itself in the vocabulary is one token, merges or not.
  bool ignore_merges = false;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
};

class BpeModel {
 public:
  using Vocab = std::unordered_map<std::string, int32_t>;
  using Merges = std::vector<std::pair<std::string, std::string>>;  // in rank order

  // Errors name the merge whose parts or result are not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(Vocab vocab, const Merges& merges,
                                                         BpeOptions options);

  // Appends the ids of one pre-tokenized word.
  void Tokenize(absl::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(const std::string& token) const;
  const std::string* IdToToken(int32_t id) const;  // null if no token has this id
  int32_t max_id() const { return static_cast<int32_t>(tokens_.size()) - 1; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };

  BpeModel(Vocab vocab, BpeOptions options);
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void SplitIntoSymbols(absl::string_view word, std::vector<int32_t>* symbols) const;
  void MergeByRank(std::vector<int32_t>* symbols) const;

  Vocab vocab_;
  std::vector<std::optional<std::string>> tokens_;  // by id
  std::unordered_map<uint64_t, Merge> merges_;      // by PairKey(left id, right id)
  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  // Ids of one-character ASCII symbols (-1: not in the vocabulary, or position-dependent
  // because of a subword prefix or suffix), sparing a hash look-up per character.
  std::array<int32_t, 128> ascii_ids_;

  // Words shorter than kMaxCachedWordBytes, up to kCacheCapacity of them (as HF's cache).
  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kCacheCapacity = 10000;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;  // guarded by cache_mutex_
};

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_BPE_MODEL_H_
