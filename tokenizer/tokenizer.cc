// Picks a model directory's tokenizer; the formats live in llama2c_tokenizer.cc,
// sentencepiece_tokenizer.cc and hf_tokenizer.cc.
#include "tokenizer/tokenizer.h"

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace llmq {
namespace {

// Files named tok*.bin in `dir`, sorted.
std::vector<std::string> Llama2cTokenizerFiles(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (const dirent* entry = ::readdir(handle)) {
    const absl::string_view name(entry->d_name);
    if (absl::StartsWith(name, "tok") && absl::EndsWith(name, ".bin")) {
      names.emplace_back(name);
    }
  }
  ::closedir(handle);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::string& dir) {
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  const std::string json = JoinPath(dir, "tokenizer.json");
  if (FileExists(json)) return LoadHfTokenizer(json, JoinPath(dir, "tokenizer_config.json"));
  const std::string sentencepiece = JoinPath(dir, "tokenizer.model");
  if (FileExists(sentencepiece)) return LoadSentencePieceTokenizer(sentencepiece);
  const std::vector<std::string> llama2c = Llama2cTokenizerFiles(dir);
  if (!llama2c.empty()) return LoadLlama2cTokenizer(JoinPath(dir, llama2c.front()));
  return absl::NotFoundError(absl::StrCat(
      dir, ": no tokenizer found (looked for tokenizer.json, tokenizer.model, tok*.bin)"));
}

}  // namespace llmq
