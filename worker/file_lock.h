// An exclusive advisory lock on a file (flock), held until the object is destroyed.
// Used to keep two daemons off one spool directory and to serialise cache updates
// between processes.
#ifndef LLMQ_WORKER_FILE_LOCK_H_
#define LLMQ_WORKER_FILE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace llmq {

class FileLock {
 public:
  // Locks `path` (created if missing). With wait = false, a lock held elsewhere is
  // kFailedPrecondition at once; otherwise this blocks until it is free.
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path,
                                                           bool wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace llmq

#endif  // LLMQ_WORKER_FILE_LOCK_H_
