// The client side of LlmqUser, for `llmq-coord` subcommands: one channel, the bearer token
// on every call, a deadline on every call, errors as absl::Status naming the RPC.
#ifndef LLMQ_COORDINATOR_USER_CLIENT_H_
#define LLMQ_COORDINATOR_USER_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "proto/llmq.grpc.pb.h"

namespace llmq {

struct ClientOptions {
  std::string target = "127.0.0.1:7878";
  std::string token;        // sent as `authorization: Bearer <token>` when set
  std::string tls_ca_path;  // TLS when set
  absl::Duration timeout = absl::Seconds(60);
};

// Whether a gRPC server at the other end of `channel` says it is serving
// (grpc.health.v1.Health/Check, no token needed) within `timeout`.
bool IsServing(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);

class UserClient {
 public:
  static absl::StatusOr<std::unique_ptr<UserClient>> Connect(const ClientOptions& options);

  // Whether the coordinator answers within `timeout`.
  bool IsServing(absl::Duration timeout) const;

  absl::StatusOr<v1::SubmitSweepResponse> SubmitSweep(const v1::SubmitSweepRequest& request);
  absl::StatusOr<v1::GetSweepResponse> GetSweep(int64_t sweep_id);
  absl::StatusOr<v1::ListSweepsResponse> ListSweeps();
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request);
  absl::StatusOr<v1::CancelSweepResponse> CancelSweep(int64_t sweep_id);
  absl::StatusOr<v1::RetryJobsResponse> RetryJobs(const v1::RetryJobsRequest& request);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers();
  absl::StatusOr<v1::QueryResultsResponse> QueryResults(const v1::QueryResultsRequest& request);

  const std::string& target() const { return options_.target; }

 private:
  UserClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)),
        stub_(v1::LlmqUser::NewStub(channel_)) {}
  void Prepare(grpc::ClientContext* context) const;

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LlmqUser::Stub> stub_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_USER_CLIENT_H_
