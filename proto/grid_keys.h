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
#ifndef LLMQ_PROTO_GRID_KEYS_H_
#define LLMQ_PROTO_GRID_KEYS_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"
#include "proto/model_identity.h"

namespace llmq {

// `job` needs model.identity and canonical parameter values with defaults filled in (as
// ExpandGrid makes them); `identities` gives the identities of dataset files it names.
// Errors: an unknown method, task or parameter, a file without identity, no model identity.
absl::StatusOr<std::string> CanonicalJobRecord(const v1::JobSpec& job,
                                               const PathIdentities& identities);
absl::StatusOr<std::string> CanonicalQuantRecord(const v1::JobSpec& job,
                                                 const PathIdentities& identities);

// SHA-256 hex of the records above.
absl::StatusOr<std::string> ComputeJobKey(const v1::JobSpec& job,
                                          const PathIdentities& identities);
absl::StatusOr<std::string> ComputeQuantKey(const v1::JobSpec& job,
                                            const PathIdentities& identities);

}  // namespace llmq

#endif  // LLMQ_PROTO_GRID_KEYS_H_
