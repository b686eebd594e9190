// Identities of the files a job reads, for canonical keys: a model's identity is a hash of
// its defining files' names and contents (never its path or alias), so one model copied to
// two places has one identity and a changed weight file has another. Dataset files named
// by path get an identity the same way. These functions read files; everything else in
// the grid library takes identities as input (the client computes them, the coordinator
// receives them).
#ifndef LLMQ_PROTO_MODEL_IDENTITY_H_
#define LLMQ_PROTO_MODEL_IDENTITY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

// Resolved path (as in Grid and JobSpec) -> identity (64 hex characters).
using PathIdentities = std::map<std::string, std::string>;

// The files that define the model at `path`, as names relative to its directory, sorted:
//   a Hugging Face directory (has config.json): config.json, generation_config.json,
//     quantize_config.json, *.safetensors, *.safetensors.index.json, tokenizer.json,
//     tokenizer.model, tokenizer_config.json, special_tokens_map.json, added_tokens.json,
//     vocab.json, merges.txt — whichever exist;
//   a llama2.c checkpoint: the .bin file (or every .bin in a directory without
//     config.json) and the tok*.bin / tok*.model tokenizers beside it.
// NotFound when there is no such file.
absl::StatusOr<std::vector<std::string>> ModelDefiningFiles(const std::string& path);

// SHA-256 over a versioned record of ModelDefiningFiles: each relative name and the
// SHA-256 of that file's bytes.
absl::StatusOr<std::string> ComputeModelIdentity(const std::string& path);

// A dataset: for a file, SHA-256 over a record of its contents' SHA-256 (the name does not
// count: a renamed copy is the same data); for a directory, over every regular file below
// it (relative names and contents' SHA-256, sorted by name).
absl::StatusOr<std::string> ComputeFileIdentity(const std::string& path);

}  // namespace llmq

#endif  // LLMQ_PROTO_MODEL_IDENTITY_H_
