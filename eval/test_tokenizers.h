// Tokenizers for eval's tests only: small, exact, and independent of tokenizer/tokenizer.cc.
#ifndef LLMQ_EVAL_TEST_TOKENIZERS_H_
#define LLMQ_EVAL_TEST_TOKENIZERS_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmq {

// One token per byte, id = 3 + byte: exactly the byte-fallback pieces <0x00>..<0xFF> of
// llama2.c's tok512 (ids 3..258), so stories260K reads these ids as real text. BOS 1, EOS 2.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(1);
    for (unsigned char c : text) ids.push_back(3 + c);
    return ids;
  }
  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id >= 3 && id < 259) out.push_back(static_cast<char>(id - 3));
    }
    return out;
  }
  int32_t vocab_size() const override { return 512; }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::optional<int32_t> eos_id() const override { return 2; }
  std::string Describe() const override { return "test bytes"; }
};

// Word pieces the way SentencePiece and GPT-2 attach spaces: each token is a run of
// spaces followed by a run of non-spaces ("Answer:", " yes"); trailing spaces form a token
// of their own. Ids are assigned on first sight. BOS 1, EOS 2, pieces from 3.
class WordTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(1);
    size_t i = 0;
    while (i < text.size()) {
      size_t j = i;
      while (j < text.size() && text[j] == ' ') ++j;
      while (j < text.size() && text[j] != ' ') ++j;
      ids.push_back(Id(std::string(text.substr(i, j - i))));
      i = j;
    }
    return ids;
  }
  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (int32_t id : ids) {
      if (id >= 3) out += pieces_[static_cast<size_t>(id - 3)];
    }
    return out;
  }
  // The piece of one id, for readable expectations.
  std::string Piece(int32_t id) const { return Decode({id}); }
  int32_t vocab_size() const override { return 1 << 20; }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::optional<int32_t> eos_id() const override { return 2; }
  std::string Describe() const override { return "test words"; }

 private:
  int32_t Id(const std::string& piece) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = ids_.emplace(piece, static_cast<int32_t>(pieces_.size()) + 3);
    if (inserted) pieces_.push_back(piece);
    return it->second;
  }
  mutable std::mutex mu_;
  mutable std::map<std::string, int32_t> ids_;
  mutable std::vector<std::string> pieces_;
};

}  // namespace llmq

#endif  // LLMQ_EVAL_TEST_TOKENIZERS_H_
