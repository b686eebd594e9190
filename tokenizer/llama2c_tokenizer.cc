// llama2.c's tokenizer (`tok*.bin`) with the encode and decode of llama2.c's run.c.
//
// run.c merges by rescanning every adjacent pair after each merge, O(n^2) per text. This
// file reaches the same result with a linked list and a heap: run.c always merges the
// pair with the highest score and, among equal scores, the leftmost; the heap orders by
// (score descending, position ascending) and drops entries whose symbols have changed.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace llmq {
namespace {

constexpr int32_t kBosId = 1;
constexpr int32_t kEosId = 2;
constexpr int32_t kFirstByteId = 3;  // pieces <0x00>..<0xFF> are ids 3..258
// run.c starts its search for the best pair at this score; lower-scored pairs never merge.
constexpr float kNoMergeScore = -1e10f;

class Llama2cTokenizer : public Tokenizer {
 public:
  Llama2cTokenizer(std::string name, std::vector<std::string> pieces, std::vector<float> scores)
      : name_(std::move(name)), pieces_(std::move(pieces)), scores_(std::move(scores)) {
    // run.c looks pieces up by binary search in a sorted copy; with unique pieces (as in
    // every published file) a hash map finds the same id.
    for (size_t i = 0; i < pieces_.size(); ++i) {
      ids_.emplace(pieces_[i], static_cast<int32_t>(i));
    }
    byte_ids_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      if (std::optional<int32_t> id = Lookup(std::string(1, static_cast<char>(b)))) {
        byte_ids_[b] = *id;
      }
    }
    // run.c looks up the concatenation of two pieces. A concatenation is in the vocabulary
    // exactly when some piece splits into two pieces there, so those splits, found once,
    // answer every look-up by id pair.
    for (const auto& [piece, id] : ids_) {
      for (size_t cut = 1; cut < piece.size(); ++cut) {
        std::optional<int32_t> left = Lookup(piece.substr(0, cut));
        std::optional<int32_t> right = Lookup(piece.substr(cut));
        if (left && right) merged_.emplace(PairKey(*left, *right), id);
      }
    }
  }

  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    // run.c reads a C string: the text ends at the first NUL byte.
    text = text.substr(0, std::min(text.size(), text.find('\0')));
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(kBosId);
    if (!text.empty()) {
      if (std::optional<int32_t> space = Lookup(" ")) ids.push_back(*space);
    }
    AppendCharacters(text, &ids);
    MergeByScore(&ids);
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string text;
    int32_t previous = -1;
    for (int32_t id : ids) {
      const int32_t prev = previous;
      previous = id;
      if (id < 0 || id >= vocab_size() || id == kBosId || id == kEosId || id == 0) continue;
      absl::string_view piece = pieces_[id];
      // After BOS, run.c drops the dummy-prefix space of the first piece.
      if (prev == kBosId && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
      unsigned char byte;
      if (ParseBytePiece(piece, &byte)) {
        text.push_back(static_cast<char>(byte));
      } else {
        text.append(piece.data(), piece.size());
      }
    }
    return text;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::optional<int32_t> bos_id() const override { return kBosId; }
  std::optional<int32_t> eos_id() const override { return kEosId; }
  std::string Describe() const override { return absl::StrCat("llama2c ", name_); }

 private:
  std::optional<int32_t> Lookup(const std::string& piece) const {
    auto it = ids_.find(piece);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

  // run.c's character loop: a byte plus the continuation bytes after it (at most 4 in
  // all) is looked up as one piece; if absent, each byte becomes its byte piece.
  void AppendCharacters(absl::string_view text, std::vector<int32_t>* ids) const {
    const auto is_continuation = [&](size_t i) {
      return i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
    };
    size_t start = 0;
    while (start < text.size()) {
      size_t end = start + 1;
      while (is_continuation(end) && end - start < 4) ++end;
      if (end == start + 1 && byte_ids_[static_cast<unsigned char>(text[start])] >= 0) {
        ids->push_back(byte_ids_[static_cast<unsigned char>(text[start])]);
        start = end;
        continue;
      }
      const std::string character(text.substr(start, end - start));
      if (std::optional<int32_t> id = Lookup(character)) {
        ids->push_back(*id);
      } else {
        for (unsigned char byte : character) ids->push_back(kFirstByteId + byte);
      }
      start = end;
    }
  }

  struct Candidate {
    float score;
    int32_t left;  // position of the left symbol; the right one is its current successor
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
    bool operator<(const Candidate& other) const {  // std::priority_queue pops the largest
      if (score != other.score) return score < other.score;
      return left > other.left;
    }
  };

  void MergeByScore(std::vector<int32_t>* ids) const {
    const int32_t n = static_cast<int32_t>(ids->size());
    std::vector<int32_t>& symbol = *ids;
    std::vector<int32_t> next(n), prev(n);
    for (int32_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;
    std::priority_queue<Candidate> queue;
    const auto push = [&](int32_t left) {
      if (left < 0 || next[left] >= n) return;
      const int32_t right_id = symbol[next[left]];
      auto merged = merged_.find(PairKey(symbol[left], right_id));
      if (merged == merged_.end() || !(scores_[merged->second] > kNoMergeScore)) return;
      queue.push({scores_[merged->second], left, symbol[left], right_id, merged->second});
    };
    for (int32_t i = 0; i + 1 < n; ++i) push(i);
    std::vector<bool> removed(n, false);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      const int32_t left = top.left;
      if (removed[left] || next[left] >= n || symbol[left] != top.left_id ||
          symbol[next[left]] != top.right_id) {
        continue;  // stale: a neighbour merged since this entry was pushed
      }
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
    ids->resize(out);
  }

  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  static bool ParseBytePiece(absl::string_view piece, unsigned char* byte) {
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return false;
    unsigned value = 0;
    for (char c : piece.substr(3, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= c - '0';
      } else if (c >= 'A' && c <= 'F') {
        value |= c - 'A' + 10;
      } else if (c >= 'a' && c <= 'f') {
        value |= c - 'a' + 10;
      } else {
        return false;
      }
    }
    *byte = static_cast<unsigned char>(value);
    return true;
  }

  std::string name_;
  std::vector<std::string> pieces_;  // (vocab_size) piece bytes, SentencePiece's ▁ as ' '
  std::vector<float> scores_;        // (vocab_size)
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, int32_t> merged_;  // PairKey(left, right) -> merged piece
  std::array<int32_t, 256> byte_ids_;               // one-byte pieces, -1 if absent
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  size_t pos = 0;
  const auto read = [&](void* out, size_t size) {
    if (bytes.size() - pos < size) return false;
    std::memcpy(out, bytes.data() + pos, size);
    pos += size;
    return true;
  };
  int32_t max_token_length;
  if (!read(&max_token_length, sizeof(max_token_length)) || max_token_length <= 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a llama2.c tokenizer (bad header)"));
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  while (pos < bytes.size()) {
    float score;
    int32_t length;
    if (!read(&score, sizeof(score)) || !read(&length, sizeof(length)) || length < 0 ||
        length > max_token_length || bytes.size() - pos < static_cast<size_t>(length)) {
      return absl::DataLossError(absl::StrCat(path, ": truncated or corrupt at token ",
                                              pieces.size(), " (byte ", pos, ")"));
    }
    pieces.emplace_back(bytes.data() + pos, length);
    scores.push_back(score);
    pos += length;
  }
  if (pieces.size() < kFirstByteId + 256) {
    return absl::DataLossError(absl::StrCat(path, ": only ", pieces.size(),
                                            " tokens; llama2.c needs at least 259"));
  }
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return std::unique_ptr<Tokenizer>(
      new Llama2cTokenizer(std::move(name), std::move(pieces), std::move(scores)));
}

}  // namespace llmq
