#include "worker/artifact_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "glog/logging.h"
#include "worker/file_lock.h"

namespace llmq {
namespace fs = std::filesystem;
namespace {

constexpr char kStagingDir[] = ".staging";
constexpr char kLockFile[] = ".lock";

absl::Status CheckKey(absl::string_view key) {
  if (IsValidArtifactKey(key)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid artifact key '", key, "'"));
}

int64_t DirectoryBytes(const std::string& dir) {
  int64_t bytes = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    const fs::file_status status = it->symlink_status(error);
    if (!error && fs::is_regular_file(status)) {
      const auto size = it->file_size(error);
      if (!error) bytes += static_cast<int64_t>(size);
    }
  }
  return bytes;
}

}  // namespace

bool IsValidArtifactKey(absl::string_view key) {
  return !key.empty() && key[0] != '.' && !absl::StrContains(key, '/') &&
         !absl::StrContains(key, '\0');
}

absl::StatusOr<std::unique_ptr<ArtifactCache>> ArtifactCache::Open(std::string root,
                                                                   int64_t max_bytes) {
  if (root.empty()) return absl::InvalidArgumentError("artifact cache: empty root");
  LLMQ_RETURN_IF_ERROR(MakeDirectories(JoinPath(root, kStagingDir)));
  return std::unique_ptr<ArtifactCache>(new ArtifactCache(std::move(root), max_bytes));
}

bool ArtifactCache::Has(absl::string_view key) const {
  return IsValidArtifactKey(key) && IsDirectory(Path(key));
}

std::string ArtifactCache::Path(absl::string_view key) const {
  return JoinPath(root_, key);
}

absl::StatusOr<std::string> ArtifactCache::NewStagingDir(absl::string_view key) const {
  LLMQ_RETURN_IF_ERROR(CheckKey(key));
  std::string pattern = JoinPath(JoinPath(root_, kStagingDir), absl::StrCat(key, ".XXXXXX"));
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat(pattern, ": cannot create staging directory: ", std::strerror(errno)));
  }
  return pattern;
}

absl::Status ArtifactCache::Commit(absl::string_view key, const std::string& dir) {
  LLMQ_RETURN_IF_ERROR(CheckKey(key));
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory to commit"));
  }
  LLMQ_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(JoinPath(root_, kLockFile), true));
  const std::string target = Path(key);
  if (IsDirectory(target)) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  } else if (std::rename(dir.c_str(), target.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(
        "committing ", dir, " as ", target, ": ", std::strerror(errno),
        errno == EXDEV ? " (build artifacts in NewStagingDir())" : ""));
  }
  LLMQ_RETURN_IF_ERROR(Touch(key));
  std::vector<std::string> evicted;
  LLMQ_RETURN_IF_ERROR(EvictLocked(key, &evicted));
  LOG(INFO) << "artifact committed key=" << key << " evicted=" << evicted.size()
            << " cache_bytes=" << TotalBytes();
  return absl::OkStatus();
}

absl::Status ArtifactCache::Touch(absl::string_view key, absl::Time when) {
  LLMQ_RETURN_IF_ERROR(CheckKey(key));
  const std::string path = Path(key);
  const timespec times[2] = {absl::ToTimespec(when), absl::ToTimespec(when)};
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    return absl::Status(errno == ENOENT ? absl::StatusCode::kNotFound
                                        : absl::StatusCode::kInternal,
                        absl::StrCat(path, ": cannot touch: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ArtifactCache::Evict(absl::string_view keep) {
  LLMQ_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(JoinPath(root_, kLockFile), true));
  std::vector<std::string> evicted;
  LLMQ_RETURN_IF_ERROR(EvictLocked(keep, &evicted));
  return evicted;
}

absl::Status ArtifactCache::EvictLocked(absl::string_view keep,
                                        std::vector<std::string>* evicted) {
  if (max_bytes_ <= 0) return absl::OkStatus();
  const std::vector<Entry> entries = ListEntries(/*with_sizes=*/true);
  int64_t total = 0;
  for (const Entry& entry : entries) total += entry.bytes;
  for (auto it = entries.rbegin(); it != entries.rend() && total > max_bytes_; ++it) {
    if (it->key == keep) continue;
    // Renamed away first, so that Has() never sees a half-deleted entry.
    const std::string doomed = JoinPath(
        JoinPath(root_, kStagingDir), absl::StrCat("evicting.", it->key, ".", ::getpid(), ".",
                                                 absl::ToUnixNanos(absl::Now())));
    if (std::rename(Path(it->key).c_str(), doomed.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("evicting ", Path(it->key), ": ",
                                              std::strerror(errno)));
    }
    std::error_code error;
    fs::remove_all(doomed, error);
    if (error) LOG(WARNING) << "artifact eviction left files path=" << doomed;
    total -= it->bytes;
    evicted->push_back(it->key);
    LOG(INFO) << "artifact evicted key=" << it->key << " bytes=" << it->bytes
              << " cache_bytes=" << total << " limit=" << max_bytes_;
  }
  if (total > max_bytes_) {
    LOG(WARNING) << "artifact cache over its limit bytes=" << total
                 << " limit=" << max_bytes_ << " kept=" << keep;
  }
  return absl::OkStatus();
}

std::vector<ArtifactCache::Entry> ArtifactCache::ListEntries(bool with_sizes) const {
  std::vector<Entry> entries;
  std::error_code error;
  for (fs::directory_iterator it(root_, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!IsValidArtifactKey(name)) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    Entry entry;
    entry.key = name;
    entry.last_use = absl::TimeFromTimespec(st.st_mtim);
    if (with_sizes) entry.bytes = DirectoryBytes(it->path().string());
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.last_use != b.last_use ? a.last_use > b.last_use : a.key < b.key;
  });
  return entries;
}

std::vector<std::string> ArtifactCache::Keys() const {
  std::vector<std::string> keys;
  for (Entry& entry : ListEntries(/*with_sizes=*/false)) keys.push_back(std::move(entry.key));
  return keys;
}

int64_t ArtifactCache::TotalBytes() const {
  int64_t total = 0;
  for (const Entry& entry : ListEntries(/*with_sizes=*/true)) total += entry.bytes;
  return total;
}

}  // namespace llmq
