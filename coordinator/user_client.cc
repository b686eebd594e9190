#include "coordinator/user_client.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "coordinator/auth.h"
#include "coordinator/grpc_status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

namespace llmq {

bool IsServing(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  // grpc.health.v1.HealthCheckRequest{} is zero bytes; the answer SERVING is field 1 = 1.
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(true);  // ride out the connection being set up
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes == std::string("\x08\x01", 2);
}

absl::StatusOr<std::unique_ptr<UserClient>> UserClient::Connect(const ClientOptions& options) {
  LLMQ_ASSIGN_OR_RETURN(auto credentials, MakeChannelCredentials(options.tls_ca_path));
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);  // results of large sweeps
  arguments.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(options.target, credentials, arguments);
  return std::unique_ptr<UserClient>(new UserClient(options, std::move(channel)));
}

bool UserClient::IsServing(absl::Duration timeout) const {
  return llmq::IsServing(channel_, timeout);
}

void UserClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

// Each RPC: a fresh context, the call, the status converted with the RPC's name.
#define LLMQ_USER_RPC(Method, Request, request_expr)                             \
  grpc::ClientContext context;                                                   \
  Prepare(&context);                                                             \
  v1::Method##Response response;                                                 \
  const Request& rpc_request = request_expr;                                     \
  grpc::Status status = stub_->Method(&context, rpc_request, &response);         \
  if (!status.ok()) return FromGrpcStatus(status, #Method);                      \
  return response

absl::StatusOr<v1::SubmitSweepResponse> UserClient::SubmitSweep(
    const v1::SubmitSweepRequest& request) {
  LLMQ_USER_RPC(SubmitSweep, v1::SubmitSweepRequest, request);
}

absl::StatusOr<v1::GetSweepResponse> UserClient::GetSweep(int64_t sweep_id) {
  v1::GetSweepRequest request;
  request.set_sweep_id(sweep_id);
  LLMQ_USER_RPC(GetSweep, v1::GetSweepRequest, request);
}

absl::StatusOr<v1::ListSweepsResponse> UserClient::ListSweeps() {
  LLMQ_USER_RPC(ListSweeps, v1::ListSweepsRequest, v1::ListSweepsRequest());
}

absl::StatusOr<v1::ListJobsResponse> UserClient::ListJobs(const v1::ListJobsRequest& request) {
  LLMQ_USER_RPC(ListJobs, v1::ListJobsRequest, request);
}

absl::StatusOr<v1::CancelSweepResponse> UserClient::CancelSweep(int64_t sweep_id) {
  v1::CancelSweepRequest request;
  request.set_sweep_id(sweep_id);
  LLMQ_USER_RPC(CancelSweep, v1::CancelSweepRequest, request);
}

absl::StatusOr<v1::RetryJobsResponse> UserClient::RetryJobs(
    const v1::RetryJobsRequest& request) {
  LLMQ_USER_RPC(RetryJobs, v1::RetryJobsRequest, request);
}

absl::StatusOr<v1::ListWorkersResponse> UserClient::ListWorkers() {
  LLMQ_USER_RPC(ListWorkers, v1::ListWorkersRequest, v1::ListWorkersRequest());
}

absl::StatusOr<v1::QueryResultsResponse> UserClient::QueryResults(
    const v1::QueryResultsRequest& request) {
  LLMQ_USER_RPC(QueryResults, v1::QueryResultsRequest, request);
}

#undef LLMQ_USER_RPC

}  // namespace llmq
