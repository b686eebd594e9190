// Content hashing for canonical keys and file fingerprints (SHA-256, lowercase hex).
#ifndef LLMQ_COMMON_HASH_H_
#define LLMQ_COMMON_HASH_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace llmq {

// SHA-256 of `data` as 64 lowercase hex characters.
std::string Sha256Hex(absl::string_view data);

// Incremental SHA-256 for data that arrives in pieces (files, canonical records).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // Appends a length-prefixed field so that ("ab","c") and ("a","bc") differ.
  void UpdateField(absl::string_view data);
  std::string HexDigest();  // finishes the hash; call once

 private:
  struct State;
  State* state_;
};

// SHA-256 of a whole file's bytes. Errors name the file.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace llmq

#endif  // LLMQ_COMMON_HASH_H_
