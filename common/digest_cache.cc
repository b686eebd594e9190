#include "common/digest_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/hash.h"

namespace llmq {
namespace {

constexpr char kCacheFile[] = "sha256-v1.tsv";

// What must not have changed for a cached digest to hold.
std::string StatKey(const std::string& real_path, const struct stat& st) {
  return absl::StrCat(real_path, "\t", static_cast<uint64_t>(st.st_dev), "\t",
                      static_cast<uint64_t>(st.st_ino), "\t", static_cast<int64_t>(st.st_size), "\t",
                      static_cast<int64_t>(st.st_mtim.tv_sec), ".", st.st_mtim.tv_nsec);
}

std::string Lookup(const std::string& cache, const std::string& key) {
  absl::StatusOr<std::string> text = ReadFile(cache);
  if (!text.ok()) return "";
  std::string found;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    const size_t tab = line.rfind('\t');
    if (tab == absl::string_view::npos || line.substr(0, tab) != key) continue;
    absl::string_view digest = line.substr(tab + 1);
    if (digest.size() == 64) found = std::string(digest);  // later lines win
  }
  return found;
}

void Append(const std::string& cache, const std::string& line) {
  const size_t slash = cache.find_last_of('/');
  if (slash != std::string::npos && !MakeDirectories(cache.substr(0, slash)).ok()) return;
  const int fd = ::open(cache.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  // One write of a short line: appends from concurrent submits do not interleave.
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

}  // namespace

std::string DigestCachePath() {
  if (const char* dir = std::getenv("LLMQ_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    if (std::string(dir) == "off") return "";
    return JoinPath(dir, kCacheFile);
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    return JoinPath(JoinPath(xdg, "llmq"), kCacheFile);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return JoinPath(JoinPath(home, ".cache/llmq"), kCacheFile);
  }
  return "";
}

absl::StatusOr<std::string> CachedSha256File(const std::string& path, int64_t min_bytes) {
  const std::string cache = DigestCachePath();
  struct stat st;
  char real[PATH_MAX];
  if (cache.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < min_bytes || ::realpath(path.c_str(), real) == nullptr) {
    return Sha256File(path);
  }
  const std::string key = StatKey(real, st);
  std::string digest = Lookup(cache, key);
  if (!digest.empty()) return digest;
  absl::StatusOr<std::string> computed = Sha256File(path);
  if (!computed.ok()) return computed;
  struct stat after;
  const bool unchanged = ::stat(path.c_str(), &after) == 0 && StatKey(real, after) == key;
  if (unchanged && std::time(nullptr) - st.st_mtim.tv_sec >= 2) {
    Append(cache, absl::StrCat(key, "\t", *computed, "\n"));
  }
  return computed;
}

}  // namespace llmq
