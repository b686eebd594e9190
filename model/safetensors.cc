#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace llmq {
namespace {

using Json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2}, {"I8", at::kChar, 1}, {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* FindDtype(absl::string_view name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* FindDtype(at::ScalarType type) {
  for (const DtypeInfo& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> map, MappedFile::Open(path));
  if (map->size() < 8) {
    return absl::DataLossError(absl::StrCat(path, ": truncated safetensors file (", map->size(),
                                            " bytes, need at least 8 for the header length)"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, map->data(), 8);
  if (header_len > map->size() - 8) {
    return absl::DataLossError(absl::StrCat(path, ": header length ", header_len,
                                            " is longer than the file (", map->size(), " bytes)"));
  }
  Json header = Json::parse(map->data() + 8, map->data() + 8 + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": header is not a JSON object"));
  }
  const size_t data_start = 8 + header_len;
  const size_t data_size = map->size() - data_start;
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(map, data_start));
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (it->is_object()) {
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (m->is_string()) file->metadata_[m.key()] = m->get<std::string>();
        }
      }
      continue;
    }
    const Json& e = it.value();
    auto bad = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat(path, ": tensor '", name, "': ", what));
    };
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets")) {
      return bad("entry needs dtype, shape and data_offsets");
    }
    SafetensorsEntry entry;
    if (!e["dtype"].is_string()) return bad("dtype is not a string");
    entry.dtype = e["dtype"].get<std::string>();
    const DtypeInfo* dtype = FindDtype(entry.dtype);
    if (dtype == nullptr) return bad(absl::StrCat("unknown dtype '", entry.dtype, "'"));
    if (!e["shape"].is_array()) return bad("shape is not a list");
    size_t numel = 1;
    for (const Json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return bad("shape has a bad dimension");
      entry.shape.push_back(d.get<int64_t>());
      numel *= static_cast<size_t>(d.get<int64_t>());
    }
    const Json& offsets = e["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return bad("data_offsets must be two non-negative integers");
    }
    entry.begin = offsets[0].get<size_t>();
    entry.end = offsets[1].get<size_t>();
    if (entry.begin > entry.end || entry.end > data_size) {
      return bad(absl::StrCat("data [", entry.begin, ", ", entry.end,
                              ") lies outside the file's data section of ", data_size,
                              " bytes (truncated file?)"));
    }
    if (entry.end - entry.begin != numel * dtype->size) {
      return bad(absl::StrCat("holds ", entry.end - entry.begin, " bytes but ", entry.dtype,
                              " x shape needs ", numel * dtype->size));
    }
    file->entries_.emplace(name, std::move(entry));
  }
  return file;
}

// Holds the map for the tensors over one name's bytes; the last of them to go takes the
// bytes' pages out of RSS.
class SafetensorsFile::EntryPages {
 public:
  EntryPages(std::shared_ptr<MappedFile> map, size_t offset, size_t length)
      : map_(std::move(map)), offset_(offset), length_(length) {}
  ~EntryPages() { map_->ReleasePages(offset_, length_); }
  EntryPages(const EntryPages&) = delete;
  EntryPages& operator=(const EntryPages&) = delete;

 private:
  std::shared_ptr<MappedFile> map_;
  size_t offset_, length_;
};

absl::StatusOr<at::Tensor> SafetensorsFile::Get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat(path(), ": no tensor named '", name, "'"));
  }
  const SafetensorsEntry& e = it->second;
  const DtypeInfo* dtype = FindDtype(e.dtype);
  char* bytes = const_cast<char*>(map_->data()) + data_start_ + e.begin;
  const auto options = at::TensorOptions().dtype(dtype->type).device(at::kCPU);
  if (reinterpret_cast<uintptr_t>(bytes) % dtype->size != 0) {
    // Misaligned data (legal in the format, rare in practice): copy.
    at::Tensor t = at::empty(e.shape, options);
    std::memcpy(t.data_ptr(), bytes, e.end - e.begin);
    return t;
  }
  std::shared_ptr<EntryPages> pages;
  {
    std::lock_guard<std::mutex> lock(pages_mutex_);
    std::weak_ptr<EntryPages>& slot = pages_[name];
    pages = slot.lock();
    if (pages == nullptr) {
      pages = std::make_shared<EntryPages>(map_, data_start_ + e.begin, e.end - e.begin);
      slot = pages;
    }
  }
  return at::from_blob(bytes, e.shape, [pages](void*) mutable { pages.reset(); }, options);
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  return CatchExceptions(absl::StrCat("writing ", path), [&]() -> absl::Status {
    Json header = Json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<at::Tensor> cpu;
    size_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
      const DtypeInfo* dtype = FindDtype(tensor.scalar_type());
      if (dtype == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor '", name, "' has an unsupported dtype"));
      }
      at::Tensor t = tensor.to(at::kCPU).contiguous();
      const size_t bytes = static_cast<size_t>(t.numel()) * dtype->size;
      header[name] = {{"dtype", dtype->name},
                      {"shape", t.sizes().vec()},
                      {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
      cpu.push_back(std::move(t));
    }
    std::string header_text = header.dump();
    while ((header_text.size() + 8) % 8 != 0) header_text.push_back(' ');
    std::string out;
    out.reserve(8 + header_text.size() + offset);
    const uint64_t header_len = header_text.size();
    out.append(reinterpret_cast<const char*>(&header_len), 8);
    out.append(header_text);
    for (const at::Tensor& t : cpu) {
      out.append(static_cast<const char*>(t.data_ptr()),
                 static_cast<size_t>(t.numel()) * t.element_size());
    }
    return WriteFileAtomically(path, out);
  });
}

}  // namespace llmq
