// absl::Status <-> grpc::Status: the codes are the same numbers in both.
#ifndef LLMQ_COORDINATOR_GRPC_STATUS_H_
#define LLMQ_COORDINATOR_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace llmq {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// `rpc` prefixes the message so that a user sees which call failed.
inline absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view rpc) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(rpc, ": ", status.error_message()));
}

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_GRPC_STATUS_H_
