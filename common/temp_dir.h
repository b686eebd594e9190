// A fresh private directory ($TMPDIR or /tmp, "<prefix>.XXXXXX"), removed with everything
// in it when the object goes away, even when a test fails half-way. path() is empty if
// the directory could not be made.
#ifndef LLMQ_COMMON_TEMP_DIR_H_
#define LLMQ_COMMON_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace llmq {

class TempDir {
 public:
  explicit TempDir(absl::string_view prefix = "llmq") {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp == '/' ? tmp : "/tmp", "/", prefix, ".XXXXXX");
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

}  // namespace llmq

#endif  // LLMQ_COMMON_TEMP_DIR_H_
