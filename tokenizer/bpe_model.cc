#include "tokenizer/bpe_model.h"

#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tokenizer/tokenizer_unicode.h"

namespace llmq {

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(Vocab vocab, const Merges& merges,
                                                         BpeOptions options) {
  std::unique_ptr<BpeModel> model(new BpeModel(std::move(vocab), std::move(options)));
  const size_t prefix_length = model->options_.continuing_subword_prefix.size();
  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    // The right part carries the continuing-subword prefix; the merged token does not
    // repeat it.
    const std::string merged =
        left + (right.size() >= prefix_length ? right.substr(prefix_length) : right);
    const std::optional<int32_t> left_id = model->TokenToId(left);
    const std::optional<int32_t> right_id = model->TokenToId(right);
    const std::optional<int32_t> merged_id = model->TokenToId(merged);
    if (!left_id || !right_id || !merged_id) {
      return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " \"", left, " ", right,
                                                     "\": token not in the vocabulary"));
    }
    // A repeated pair keeps its last rank, as HF's map does.
    model->merges_[PairKey(*left_id, *right_id)] = {static_cast<int32_t>(rank), *merged_id};
  }
  if (model->options_.unk_token) {
    model->unk_id_ = model->TokenToId(*model->options_.unk_token);
    if (!model->unk_id_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unk_token \"", *model->options_.unk_token, "\" is not in the vocabulary"));
    }
  }
  return model;
}

BpeModel::BpeModel(Vocab vocab, BpeOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab_) max_id = std::max(max_id, id);
  tokens_.resize(max_id + 1);
  for (const auto& [token, id] : vocab_) {
    if (id >= 0) tokens_[id] = token;
  }
  ascii_ids_.fill(-1);
  if (options_.continuing_subword_prefix.empty() && options_.end_of_word_suffix.empty()) {
    for (int c = 0; c < 0x80; ++c) {
      if (std::optional<int32_t> id = TokenToId(std::string(1, static_cast<char>(c)))) {
        ascii_ids_[c] = *id;
      }
    }
  }
}

std::optional<int32_t> BpeModel::TokenToId(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id > max_id() || !tokens_[id]) return nullptr;
  return &*tokens_[id];
}

void BpeModel::Tokenize(absl::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  const std::string key(word);
  if (options_.ignore_merges) {
    if (std::optional<int32_t> id = TokenToId(key)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  SplitIntoSymbols(word, &symbols);
  MergeByRank(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(key, std::move(symbols));
  }
}

void BpeModel::SplitIntoSymbols(absl::string_view word, std::vector<int32_t>* symbols) const {
  std::optional<int32_t> pending_unk;  // an unk not yet emitted, so that runs can fuse
  for (size_t pos = 0; pos < word.size();) {
    const unsigned char byte = static_cast<unsigned char>(word[pos]);
    if (byte < 0x80 && ascii_ids_[byte] >= 0) {
      if (pending_unk) symbols->push_back(*pending_unk);
      pending_unk.reset();
      symbols->push_back(ascii_ids_[byte]);
      ++pos;
      continue;
    }
    const size_t length = Utf8CharLength(word, pos);
    std::string piece(word.substr(pos, length));
    if (pos > 0) piece = options_.continuing_subword_prefix + piece;
    pos += length;
    if (pos == word.size()) piece += options_.end_of_word_suffix;
    if (std::optional<int32_t> id = TokenToId(piece)) {
      if (pending_unk) symbols->push_back(*pending_unk);
      pending_unk.reset();
      symbols->push_back(*id);
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (unsigned char b : piece) {
        std::optional<int32_t> id = TokenToId(absl::StrFormat("<0x%02X>", b));
        if (!id) break;
        bytes.push_back(*id);
      }
      if (bytes.size() == piece.size()) {
        // As in HF, a pending unk stays pending across byte pieces.
        symbols->insert(symbols->end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !options_.fuse_unk) symbols->push_back(*pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk) symbols->push_back(*pending_unk);
}

void BpeModel::MergeByRank(std::vector<int32_t>* ids) const {
  struct Candidate {
    int32_t rank;
    int32_t left;  // position of the left symbol
    int32_t merged_id;
    bool operator<(const Candidate& other) const {  // the top is the lowest rank, leftmost
      if (rank != other.rank) return rank > other.rank;
      return left > other.left;
    }
  };
  std::vector<int32_t>& symbol = *ids;
  const int32_t n = static_cast<int32_t>(symbol.size());
  std::vector<int32_t> next(n), prev(n);
  std::vector<bool> removed(n, false);
  for (int32_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;
  std::priority_queue<Candidate> queue;
  const auto push = [&](int32_t left) {
    if (left < 0 || next[left] >= n) return;
    auto it = merges_.find(PairKey(symbol[left], symbol[next[left]]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.merged_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t left = top.left;
    if (removed[left] || next[left] >= n) continue;
    // Stale if the pair at this position no longer merges into the same token.
    auto it = merges_.find(PairKey(symbol[left], symbol[next[left]]));
    if (it == merges_.end() || it->second.merged_id != top.merged_id) continue;
    const int32_t right = next[left];
    symbol[left] = top.merged_id;
    removed[right] = true;
    next[left] = next[right];
    if (next[right] < n) prev[next[right]] = left;
    push(prev[left]);
    push(left);
  }
  int32_t out = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (!removed[i]) symbol[out++] = symbol[i];
  }
  symbol.resize(out);
}

}  // namespace llmq
