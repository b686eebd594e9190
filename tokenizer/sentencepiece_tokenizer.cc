// SentencePiece `.model` files through libsentencepiece. With `add_special`, BOS is added
// (as Llama-2's tokenizer does); EOS never is.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "tokenizer/sentencepiece_tokenizer_backend.h"
#include "tokenizer/tokenizer.h"

namespace llmq {
namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(std::string name, std::unique_ptr<SentencePieceBackend> backend)
      : name_(std::move(name)), backend_(std::move(backend)) {}

  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special && backend_->bos_id() >= 0) ids.push_back(backend_->bos_id());
    for (int id : backend_->Encode(text.data(), text.size())) ids.push_back(id);
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    return backend_->Decode(std::vector<int>(ids.begin(), ids.end()));
  }

  int32_t vocab_size() const override { return backend_->vocab_size(); }
  std::optional<int32_t> bos_id() const override { return OptionalId(backend_->bos_id()); }
  std::optional<int32_t> eos_id() const override { return OptionalId(backend_->eos_id()); }
  std::string Describe() const override { return absl::StrCat("sentencepiece ", name_); }

 private:
  static std::optional<int32_t> OptionalId(int id) {
    if (id < 0) return std::nullopt;
    return id;
  }

  std::string name_;
  std::unique_ptr<SentencePieceBackend> backend_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  std::string error;
  std::unique_ptr<SentencePieceBackend> backend = SentencePieceBackend::Load(path, &error);
  if (backend == nullptr) {
    return absl::DataLossError(absl::StrCat(path, ": not a SentencePiece model: ", error));
  }
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return std::unique_ptr<Tokenizer>(new SentencePieceTokenizer(std::move(name), std::move(backend)));
}

}  // namespace llmq
