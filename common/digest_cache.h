// A per-user cache of large files' SHA-256, so that resubmitting a grid does not re-read
// every weight file to compute model identities (a 7B model is ~14 GB: ~10 s per submit).
// An entry is trusted while the file's device, inode, size and modification time (ns) are
// unchanged, as git's index and ccache do; files modified in the last two seconds are not
// cached (a write in the same clock tick would go unnoticed). The cache is a text file,
// one line per digest, appended with O_APPEND (later lines win); any trouble reading or
// writing it falls back to hashing. Location: $LLMQ_CACHE_DIR, else $XDG_CACHE_HOME/llmq,
// else ~/.cache/llmq; LLMQ_CACHE_DIR=off disables it.
#ifndef LLMQ_COMMON_DIGEST_CACHE_H_
#define LLMQ_COMMON_DIGEST_CACHE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace llmq {

// Sha256File(path), from the cache when the file is at least `min_bytes` long and unchanged.
absl::StatusOr<std::string> CachedSha256File(const std::string& path,
                                             int64_t min_bytes = int64_t{16} << 20);

// The cache file in use, or "" when disabled.
std::string DigestCachePath();

}  // namespace llmq

#endif  // LLMQ_COMMON_DIGEST_CACHE_H_
