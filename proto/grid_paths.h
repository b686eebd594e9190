// Where the paths written in a grid file point. The one rule: a relative model or dataset
// path is relative to the directory of the grid file (as docker-compose and Kubernetes
// manifests resolve theirs), never to the current directory, so a grid means the same
// thing whoever submits it from wherever. Resolution is lexical ("a/../b" -> "b"), reads
// no files, and therefore gives the same answer on the client and on the coordinator.
#ifndef LLMQ_PROTO_GRID_PATHS_H_
#define LLMQ_PROTO_GRID_PATHS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

// "a/./b/../c/" -> "a/c", "../x" stays, "/.." -> "/", "" -> ".".
std::string NormalizePath(absl::string_view path);

// `path` as written in the grid file `grid_file`, resolved by the rule above. A leading
// "~" is refused (the coordinator and workers have other home directories).
absl::StatusOr<std::string> ResolveGridPath(absl::string_view grid_file,
                                            absl::string_view path);

// `path` joined to the current directory when relative, normalized.
std::string MakeAbsolutePath(absl::string_view path);

}  // namespace llmq

#endif  // LLMQ_PROTO_GRID_PATHS_H_
