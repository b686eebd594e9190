#include "model/tokenizer.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace llmq {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path) {
  return absl::UnimplementedError(absl::StrCat(path, ": llama2.c tokenizer not built yet"));
}
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path) {
  return absl::UnimplementedError(absl::StrCat(path, ": sentencepiece not built yet"));
}
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& json_path,
                                                          const std::string&) {
  return absl::UnimplementedError(absl::StrCat(json_path, ": hf tokenizer not built yet"));
}
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::string& dir) {
  return absl::UnimplementedError(absl::StrCat(dir, ": tokenizers not built yet"));
}

}  // namespace llmq
