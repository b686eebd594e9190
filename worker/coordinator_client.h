// The worker's side of the LlmqWorker service: one channel to the coordinator, a
// deadline on every call, the bearer token on every call, and gRPC statuses turned into
// absl::Status (same codes). Thread-safe: the job loop and the heartbeat thread share it.
#ifndef LLMQ_WORKER_COORDINATOR_CLIENT_H_
#define LLMQ_WORKER_COORDINATOR_CLIENT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/llmq.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace llmq {

struct CoordinatorConnection {
  std::string target;        // host:port
  std::string token;         // sent as "authorization: Bearer <token>"; empty = none
  std::string tls_ca_pem;    // root certificates; empty = plaintext
  absl::Duration rpc_timeout = absl::Seconds(10);  // every call but Lease's long poll
  // Longest pause gRPC takes between reconnection attempts to a coordinator that is down.
  absl::Duration max_reconnect_backoff = absl::Seconds(10);
};

class CoordinatorClient {
 public:
  // Creates the channel; connecting happens lazily on the first call.
  static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Connect(
      const CoordinatorConnection& connection);

  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& request);
  // Long poll: the deadline is the request's wait_seconds plus rpc_timeout.
  // After StopLeasing(), a pending or later call ends at once with kCancelled.
  absl::StatusOr<v1::LeaseResponse> Lease(const v1::LeaseRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& request,
                                            absl::Duration timeout);
  absl::Status Deregister(const v1::DeregisterRequest& request, absl::Duration timeout);

  // Cancels the Lease call in flight and refuses later ones: draining is for good.
  void StopLeasing();

  const CoordinatorConnection& connection() const { return connection_; }

 private:
  CoordinatorClient(CoordinatorConnection connection,
                    std::shared_ptr<grpc::Channel> channel);
  void Prepare(grpc::ClientContext* context, absl::Duration timeout) const;

  const CoordinatorConnection connection_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LlmqWorker::Stub> stub_;
  absl::Mutex lease_mu_;
  grpc::ClientContext* pending_lease_ ABSL_GUARDED_BY(lease_mu_) = nullptr;
  bool leasing_stopped_ ABSL_GUARDED_BY(lease_mu_) = false;
};

// Whether a failed call means the coordinator could not be reached (or answered too
// late): the worker backs off, retries, and registers again once it answers.
bool IsUnreachable(const absl::Status& status);

}  // namespace llmq

#endif  // LLMQ_WORKER_COORDINATOR_CLIENT_H_
