// Identities of the files a job reads, for canonical keys: a model's identity is a hash of
// its defining files' names and contents (never its path or alias), so one model copied to
// two places has one identity and a changed weight file has another. Dataset files named
// by path get an identity the same way. These functions read files; everything else in
// the grid library takes identities as input (the client computes them, the coordinator
// receives them).
#ifndef LLMQ_GRID_KEYS_H_
#define LLMQ_GRID_KEYS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"

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

// The number of transformer blocks of the model at `path`: config.json's num_hidden_layers
// for a Hugging Face (or GPTQ) directory, the header's n_layers for a llama2.c checkpoint.
// What `scan: layers` expands over; InvalidArgument naming the file when it is not there.
absl::StatusOr<int> ReadModelBlockCount(const std::string& path);

}  // namespace llmq

// Canonical keys of a job. job_key names a result: a hash of everything that determines it
// (model identity, dtype, method and its result-affecting parameters, calibration when the
// method calibrates, task and its result-affecting parameters, repeat index,
// kResultVersion). quant_key names a quantized model: model identity, dtype, method and
// parameters, calibration, kResultVersion (a quantizer fix changes results, so it must
// not reuse old artifacts). Neither depends on paths, aliases, parameter order, whether a
// default was written out, or parameters that do not change results (batch_size).
//
// The hash is SHA-256 over a versioned text record, one `name=value` line per field with
// parameters sorted by name and values C-escaped; never over protobuf bytes, whose map
// order is not canonical. Dataset parameters that name files enter the record as the
// file's identity. The records are exposed so that a changed key can be explained.
namespace llmq {

// `job` needs model.identity and canonical parameter values with defaults filled in (as
// ExpandGrid makes them); `identities` gives the identities of dataset files it names.
// Errors: an unknown method, task or parameter, a file without identity, no model identity.
absl::StatusOr<std::string> CanonicalJobRecord(const v1::JobSpec& job,
                                               const PathIdentities& identities);
absl::StatusOr<std::string> CanonicalQuantRecord(const v1::JobSpec& job,
                                                 const PathIdentities& identities);

// CanonicalJobRecord in the parts that expansion shares between jobs (one head per model,
// method and calibration; one task part per task variant), so that a job costs a
// concatenation and a hash rather than a record built from scratch:
//   CanonicalJobRecord(job) == CanonicalJobRecordHead(job) + CanonicalTaskRecord(job.task())
//                              + CanonicalRepeatRecord(job.repeat())
absl::StatusOr<std::string> CanonicalJobRecordHead(const v1::JobSpec& job,
                                                   const PathIdentities& identities);
absl::StatusOr<std::string> CanonicalTaskRecord(const v1::TaskSpec& task,
                                                const PathIdentities& identities);
std::string CanonicalRepeatRecord(int repeat);

// SHA-256 hex of the records above.
absl::StatusOr<std::string> ComputeJobKey(const v1::JobSpec& job,
                                          const PathIdentities& identities);
absl::StatusOr<std::string> ComputeQuantKey(const v1::JobSpec& job,
                                            const PathIdentities& identities);

}  // namespace llmq

#endif  // LLMQ_GRID_KEYS_H_
