// File helpers: whole-file reads, atomic writes, read-only memory maps.
// Every error names the path.
#ifndef LLMQ_COMMON_FILES_H_
#define LLMQ_COMMON_FILES_H_

#include <cstddef>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llmq {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// "path: what: strerror(errno)", NotFound when errno is ENOENT, else Internal.
absl::Status ErrnoError(absl::string_view what, const std::string& path);

// Writes `contents` to `path` through a temporary file and rename, so readers never see a
// partial file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

bool FileExists(const std::string& path);
bool IsDirectory(const std::string& path);
absl::StatusOr<size_t> FileSize(const std::string& path);
absl::Status MakeDirectories(const std::string& path);

// Joins path pieces with '/', without doubling separators.
std::string JoinPath(absl::string_view a, absl::string_view b);

// A private (copy-on-write) memory map of a whole file: writes through it never reach
// the file. The bytes stay valid while any
// shared_ptr to the map lives; tensors that alias the map hold one.
class MappedFile {
 public:
  static absl::StatusOr<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return static_cast<const char*>(data_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Takes the whole pages inside [offset, offset + length) out of this process's resident
  // memory (madvise MADV_DONTNEED); the pages at either end, which neighbouring bytes may
  // share, stay. Touched pages of a mapping count in RSS for as long as it lives, so a
  // caller that is done with a range (a weight that quantization replaced) hands it back
  // here. Read again, the range shows the file's bytes: writes made through it are lost.
  void ReleasePages(size_t offset, size_t length) const;

 private:
  MappedFile(std::string path, void* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  void* data_;
  size_t size_;
};

}  // namespace llmq

#endif  // LLMQ_COMMON_FILES_H_
