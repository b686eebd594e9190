#include "proto/grid_paths.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace llmq {

std::string NormalizePath(absl::string_view path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      if (absolute) continue;  // "/.." is "/"
    }
    parts.push_back(part);
  }
  const std::string joined = absl::StrJoin(parts, "/");
  if (absolute) return absl::StrCat("/", joined);
  return joined.empty() ? "." : joined;
}

absl::StatusOr<std::string> ResolveGridPath(absl::string_view grid_file,
                                            absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("expected a path, got \"\"");
  if (path[0] == '~') {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", path, "\": \"~\" is not expanded (the coordinator and workers may have another "
        "home directory); write an absolute path or one relative to the grid file"));
  }
  if (path[0] == '/') return NormalizePath(path);
  const size_t slash = grid_file.find_last_of('/');
  if (slash == absl::string_view::npos) return NormalizePath(path);
  return NormalizePath(absl::StrCat(grid_file.substr(0, slash + 1), path));
}

std::string MakeAbsolutePath(absl::string_view path) {
  if (!path.empty() && path[0] == '/') return NormalizePath(path);
  std::vector<char> buffer(4096);
  if (::getcwd(buffer.data(), buffer.size()) == nullptr) return NormalizePath(path);
  return NormalizePath(absl::StrCat(buffer.data(), "/", path));
}

}  // namespace llmq
