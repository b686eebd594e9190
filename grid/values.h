// Scalar values of the grid file and their canonical strings: integers in decimal, booleans
// as true/false, floats in shortest round-trip form, comma-separated lists, durations
// ("1h30m") and byte sizes ("2GiB"). Canonical strings are what job specs carry and what
// canonical keys hash, so two spellings of one value ("0.010", "1e-2") give one key.
// Errors are InvalidArgument with a message that says what was expected (no location:
// the parser adds it).
#ifndef LLMQ_GRID_VALUES_H_
#define LLMQ_GRID_VALUES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

// "-12", "+7", "007" -> the int64 value; rejects "4.0", "1e3", "", overflow.
absl::StatusOr<int64_t> ParseGridInt(absl::string_view text);

// A finite decimal or scientific number ("0.01", "1e-2", "6").
absl::StatusOr<double> ParseGridFloat(absl::string_view text);

// true/false, yes/no, on/off in any case (YAML 1.1 spellings researchers still write).
absl::StatusOr<bool> ParseGridBool(absl::string_view text);

// The shortest string that reads back as exactly `value` ("0.01", "6", "1e-05").
std::string CanonicalFloat(double value);

inline std::string CanonicalBool(bool value) { return value ? "true" : "false"; }

// "512, 128,128" -> "128,512": positive integers, sorted, duplicates dropped. Order carries
// no meaning in the lists that use this (prompt lengths, batch sizes).
absl::StatusOr<std::string> CanonicalIntList(absl::string_view text);

// "model.layers.0.*, lm_head" -> "lm_head,model.layers.0.*": module-name patterns (letters,
// digits, _ . - * ?), trimmed, sorted, duplicates and empty items dropped; "" = none.
absl::StatusOr<std::string> CanonicalPatternList(absl::string_view text);

// "90s", "30m", "2h", "1h30m", "1.5h", "1d", "45" (seconds), "0" or "none" (no limit)
// -> seconds, rounded to the nearest second.
absl::StatusOr<int64_t> ParseDurationSeconds(absl::string_view text);

// "2GiB", "512 MiB", "1.5G", "2GB", "4096" (bytes) -> bytes. Binary units: Ki Mi Gi Ti,
// KiB MiB GiB TiB and the bare K M G T (as Slurm reads --mem); decimal units: KB MB GB TB.
// Units are case-insensitive.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);

}  // namespace llmq

// Where the paths written in a grid file point. The one rule: a relative model or dataset
// path is relative to the directory of the grid file (as docker-compose and Kubernetes
// manifests resolve theirs), never to the current directory, so a grid means the same
// thing whoever submits it from wherever. Resolution is lexical ("a/../b" -> "b"), reads
// no files, and therefore gives the same answer on the client and on the coordinator.
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

#endif  // LLMQ_GRID_VALUES_H_
