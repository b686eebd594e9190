// The safetensors format: 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the
// tensor bytes. Files are memory-mapped; tensors alias the map (copy-on-write).
#ifndef LLMQ_MODEL_SAFETENSORS_H_
#define LLMQ_MODEL_SAFETENSORS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/files.h"

namespace llmq {

struct SafetensorsEntry {
  std::string dtype;  // "F32", "F16", "BF16", "I32", "I8", "U8", "I64", ...
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets into the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps the file and validates its header: offsets inside the file, sizes that match
  // dtype x shape, known dtypes. Errors name the file and the tensor.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return map_->path(); }
  bool Has(const std::string& name) const { return entries_.count(name) > 0; }

  // A CPU tensor over the mapped bytes (no copy when aligned). Keeps the map alive. When
  // the last tensor over a name's bytes goes, those pages leave the process's resident
  // memory (MappedFile::ReleasePages): the embeddings keep the map alive for as long as
  // the model lives, and a weight that quantization (or a dtype or device copy) replaced
  // would otherwise still count in RSS, as if the model held it.
  absl::StatusOr<at::Tensor> Get(const std::string& name) const;

 private:
  class EntryPages;
  SafetensorsFile(std::shared_ptr<MappedFile> map, size_t data_start)
      : map_(std::move(map)), data_start_(data_start) {}
  std::shared_ptr<MappedFile> map_;
  size_t data_start_;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  // One per name while tensors over its bytes live: a second Get of a name shares the
  // first one's, so its pages go only when both tensors have.
  mutable std::mutex pages_mutex_;
  mutable std::map<std::string, std::weak_ptr<EntryPages>> pages_;
};

// Writes tensors (any device; contiguous copies are made on CPU) to `path` atomically.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata);

}  // namespace llmq

#endif  // LLMQ_MODEL_SAFETENSORS_H_
