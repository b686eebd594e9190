#include "worker/coordinator_client.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"

namespace llmq {
namespace {

absl::Status FromGrpc(const grpc::Status& status, absl::string_view rpc) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(rpc, ": ", status.error_message()));
}

}  // namespace

bool IsUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Connect(
    const CoordinatorConnection& connection) {
  if (connection.target.empty()) {
    return absl::InvalidArgumentError("no coordinator address (--coordinator host:port)");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (connection.tls_ca_pem.empty()) {
    if (!connection.token.empty()) {
      LOG(WARNING) << "sending the bearer token over a plaintext channel; use --tls-ca"
                   << " coordinator=" << connection.target;
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = connection.tls_ca_pem;
    credentials = grpc::SslCredentials(options);
  }
  grpc::ChannelArguments arguments;
  const int max_backoff_ms = static_cast<int>(
      std::max<int64_t>(100, absl::ToInt64Milliseconds(connection.max_reconnect_backoff)));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(1000, max_backoff_ms));
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(1000, max_backoff_ms));
  auto channel = grpc::CreateCustomChannel(connection.target, credentials, arguments);
  return std::unique_ptr<CoordinatorClient>(
      new CoordinatorClient(connection, std::move(channel)));
}

CoordinatorClient::CoordinatorClient(CoordinatorConnection connection,
                                     std::shared_ptr<grpc::Channel> channel)
    : connection_(std::move(connection)), channel_(std::move(channel)),
      stub_(v1::LlmqWorker::NewStub(channel_)) {}

void CoordinatorClient::Prepare(grpc::ClientContext* context,
                                absl::Duration timeout) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!connection_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", connection_.token));
  }
}

absl::StatusOr<v1::RegisterResponse> CoordinatorClient::Register(
    const v1::RegisterRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, connection_.rpc_timeout);
  v1::RegisterResponse response;
  const absl::Status status = FromGrpc(stub_->Register(&context, request, &response),
                                       "Register");
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::LeaseResponse> CoordinatorClient::Lease(
    const v1::LeaseRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, absl::Seconds(request.wait_seconds()) + connection_.rpc_timeout);
  {
    absl::MutexLock lock(&lease_mu_);
    if (leasing_stopped_) return absl::CancelledError("Lease: the worker is draining");
    pending_lease_ = &context;
  }
  v1::LeaseResponse response;
  const grpc::Status grpc_status = stub_->Lease(&context, request, &response);
  {
    absl::MutexLock lock(&lease_mu_);
    pending_lease_ = nullptr;
  }
  const absl::Status status = FromGrpc(grpc_status, "Lease");
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> CoordinatorClient::Heartbeat(
    const v1::HeartbeatRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, connection_.rpc_timeout);
  v1::HeartbeatResponse response;
  const absl::Status status = FromGrpc(stub_->Heartbeat(&context, request, &response),
                                       "Heartbeat");
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ReportResponse> CoordinatorClient::Report(
    const v1::ReportRequest& request, absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(&context, timeout);
  v1::ReportResponse response;
  const absl::Status status = FromGrpc(stub_->Report(&context, request, &response),
                                       "Report");
  if (!status.ok()) return status;
  return response;
}

absl::Status CoordinatorClient::Deregister(const v1::DeregisterRequest& request,
                                           absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(&context, timeout);
  v1::DeregisterResponse response;
  return FromGrpc(stub_->Deregister(&context, request, &response), "Deregister");
}

void CoordinatorClient::StopLeasing() {
  absl::MutexLock lock(&lease_mu_);
  leasing_stopped_ = true;
  if (pending_lease_ != nullptr) pending_lease_->TryCancel();
}

}  // namespace llmq
