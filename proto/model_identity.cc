#include "proto/model_identity.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest_cache.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status.h"

namespace llmq {
namespace {

// Bump when the identity record changes (it changes every identity, hence every key).
constexpr char kModelIdentityVersion[] = "llmq-model-identity/1";
constexpr char kFileIdentityVersion[] = "llmq-file-identity/1";

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Names of the entries of `directory` (not "." and ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return absl::NotFoundError(absl::StrCat(directory, ": cannot list"));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsHuggingFaceFile(const std::string& name) {
  static const char* const kNamed[] = {
      "config.json",          "generation_config.json",  "quantize_config.json",
      "tokenizer.json",       "tokenizer.model",         "tokenizer_config.json",
      "special_tokens_map.json", "added_tokens.json",    "vocab.json",
      "merges.txt"};
  for (const char* named : kNamed) {
    if (name == named) return true;
  }
  return absl::EndsWith(name, ".safetensors") || absl::EndsWith(name, ".safetensors.index.json");
}

bool IsLlama2cTokenizer(const std::string& name) {
  return absl::StartsWith(name, "tok") &&
         (absl::EndsWith(name, ".bin") || absl::EndsWith(name, ".model"));
}

// Every regular file below `directory`, as names relative to it ("a/b.txt"), sorted.
absl::Status ListFilesRecursively(const std::string& directory, const std::string& prefix,
                                  std::vector<std::string>* files) {
  LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                        ListDirectory(JoinPath(directory, prefix)));
  for (const std::string& name : names) {
    const std::string relative = prefix.empty() ? name : absl::StrCat(prefix, "/", name);
    const std::string full = JoinPath(directory, relative);
    if (IsDirectory(full)) {
      LLMQ_RETURN_IF_ERROR(ListFilesRecursively(directory, relative, files));
    } else if (IsRegularFile(full)) {
      files->push_back(relative);
    }
  }
  return absl::OkStatus();
}

// SHA-256 over the version tag and each (relative name, SHA-256 of the file) pair.
absl::StatusOr<std::string> HashFiles(absl::string_view version, const std::string& directory,
                                      const std::vector<std::string>& names) {
  Sha256 hash;
  hash.UpdateField(version);
  for (const std::string& name : names) {
    LLMQ_ASSIGN_OR_RETURN(const std::string digest, CachedSha256File(JoinPath(directory, name)));
    hash.UpdateField(name);
    hash.UpdateField(digest);
  }
  return hash.HexDigest();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ModelDefiningFiles(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such model"));
  std::vector<std::string> files;
  if (!IsDirectory(path)) {
    // A llama2.c checkpoint file and the tokenizers beside it.
    const std::string directory = DirectoryOf(path);
    LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(directory));
    files.push_back(path.substr(path.find_last_of('/') + 1));
    for (const std::string& name : names) {
      if (IsLlama2cTokenizer(name) && name != files[0]) files.push_back(name);
    }
  } else {
    LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(path));
    const bool hugging_face = std::find(names.begin(), names.end(), "config.json") != names.end();
    for (const std::string& name : names) {
      if (!IsRegularFile(JoinPath(path, name))) continue;
      const bool defining = hugging_face
                                ? IsHuggingFaceFile(name)
                                : absl::EndsWith(name, ".bin") || IsLlama2cTokenizer(name);
      if (defining) files.push_back(name);
    }
    if (files.empty()) {
      return absl::NotFoundError(absl::StrCat(
          path, ": no model files (expected config.json with *.safetensors, or a llama2.c "
                ".bin checkpoint)"));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ComputeModelIdentity(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> files, ModelDefiningFiles(path));
  const std::string directory = IsDirectory(path) ? path : DirectoryOf(path);
  return HashFiles(kModelIdentityVersion, directory, files);
}

absl::StatusOr<std::string> ComputeFileIdentity(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (!IsDirectory(path)) {
    LLMQ_ASSIGN_OR_RETURN(const std::string digest, CachedSha256File(path));
    Sha256 hash;
    hash.UpdateField(kFileIdentityVersion);
    hash.UpdateField(digest);
    return hash.HexDigest();
  }
  std::vector<std::string> files;
  LLMQ_RETURN_IF_ERROR(ListFilesRecursively(path, "", &files));
  std::sort(files.begin(), files.end());
  return HashFiles(kFileIdentityVersion, path, files);
}

}  // namespace llmq
