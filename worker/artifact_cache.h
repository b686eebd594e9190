// A local cache of quantized models: one directory per quantization key under a root,
// bounded in size, least recently used entries evicted first.
//
//   root/<quant_key>/...      a committed artifact; its directory mtime is its last use
//   root/.staging/...         artifacts being written (never seen by Has/Keys)
//   root/.lock                serialises Commit and Evict between processes
//
// The state lives on disk only, so the daemon (which reports the keys to the coordinator)
// and its job processes (which read and commit artifacts) see the same cache. A writer
// fills a directory from NewStagingDir() and then Commit()s it: the rename makes the entry
// appear whole or not at all. Keys are the coordinator's hex quant keys: no '/', no
// leading '.'. Thread-compatible; safe between processes sharing a root, except that an
// entry one process reads may be evicted by another's Commit (give each worker its own
// cache, or a limit that holds the artifacts of the jobs running at once).
#ifndef LLMQ_WORKER_ARTIFACT_CACHE_H_
#define LLMQ_WORKER_ARTIFACT_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace llmq {

class ArtifactCache {
 public:
  // Opens the cache at `root`, creating it if needed. max_bytes <= 0: no limit.
  static absl::StatusOr<std::unique_ptr<ArtifactCache>> Open(std::string root,
                                                             int64_t max_bytes);

  bool Has(absl::string_view key) const;

  // root/<key>, whether or not it is present. Call Touch(key) when using it.
  std::string Path(absl::string_view key) const;

  // A fresh empty directory on the cache's filesystem to build an artifact in.
  absl::StatusOr<std::string> NewStagingDir(absl::string_view key) const;

  // Moves the finished directory `dir` (from NewStagingDir) into the cache as `key`,
  // marks it used now, and evicts other entries down to the limit. If `key` is already
  // present, the existing entry stays and `dir` is deleted.
  absl::Status Commit(absl::string_view key, const std::string& dir);

  // Marks `key` as used at `when` (it becomes the most recently used entry).
  absl::Status Touch(absl::string_view key, absl::Time when = absl::Now());

  // Removes least recently used entries until the total size is within the limit,
  // never removing `keep`. Returns the removed keys.
  absl::StatusOr<std::vector<std::string>> Evict(absl::string_view keep = {});

  // Committed keys, most recently used first.
  std::vector<std::string> Keys() const;

  // Bytes in committed entries (regular files' sizes).
  int64_t TotalBytes() const;

  const std::string& root() const { return root_; }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  ArtifactCache(std::string root, int64_t max_bytes)
      : root_(std::move(root)), max_bytes_(max_bytes) {}

  struct Entry {
    std::string key;
    absl::Time last_use;
    int64_t bytes = 0;
  };
  std::vector<Entry> ListEntries(bool with_sizes) const;  // most recently used first
  absl::Status EvictLocked(absl::string_view keep, std::vector<std::string>* evicted);

  const std::string root_;
  const int64_t max_bytes_;
};

// Whether `key` may name a cache entry: nonempty, no '/', no leading '.'.
bool IsValidArtifactKey(absl::string_view key);

}  // namespace llmq

#endif  // LLMQ_WORKER_ARTIFACT_CACHE_H_
