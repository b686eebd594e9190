// WorkerService: what `llmq-worker` daemons call. Every call but a waiting Lease is
// answered on the gRPC thread that received it.
#include <glog/logging.h>

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "coordinator/grpc_status.h"
#include "coordinator/worker_service.h"

namespace llmq {
namespace {

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// A Lease that waits in the LeaseWaitlist. If its client goes away, the waitlist answers
// it at once; either way Finish is called exactly once (by the waitlist's `done`). The
// waitlist may answer, and gRPC call OnDone, before Park returns: the reactor lives until
// both Park and OnDone are through.
class ParkedLease final : public grpc::ServerUnaryReactor {
 public:
  ParkedLease(LeaseWaitlist* waitlist, v1::LeaseResponse* response)
      : waitlist_(waitlist), response_(response) {}

  void Park(const v1::LeaseRequest& request, absl::Time deadline) {
    const uint64_t id =
        waitlist_->Park(request, deadline, [this](LeaseWaitlist::LeaseResult result) {
          if (!result.ok()) {
            Finish(ToGrpcStatus(result.status()));
            return;
          }
          if (result->has_value()) *response_->mutable_lease() = std::move(**result);
          Finish(grpc::Status::OK);
        });
    {
      absl::MutexLock lock(&mu_);
      id_ = id;
    }
    Unref();
  }

  void OnCancel() override {
    uint64_t id = 0;
    {
      absl::MutexLock lock(&mu_);
      id = id_;
    }
    if (id != 0) waitlist_->Cancel(id);
  }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  LeaseWaitlist* const waitlist_;
  v1::LeaseResponse* const response_;
  std::atomic<int> refs_{2};  // Park's caller and gRPC
  absl::Mutex mu_;
  uint64_t id_ ABSL_GUARDED_BY(mu_) = 0;  // 0 until parked
};

}  // namespace

grpc::ServerUnaryReactor* WorkerService::Register(grpc::CallbackServerContext* context,
                                                  const v1::RegisterRequest* request,
                                                  v1::RegisterResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return Answer(context, denied);
  absl::StatusOr<v1::RegisterResponse> registered = scheduler_->Register(*request);
  if (registered.ok()) *response = std::move(registered).value();
  return Answer(context, ToGrpcStatus(registered.status()));
}

grpc::ServerUnaryReactor* WorkerService::Lease(grpc::CallbackServerContext* context,
                                               const v1::LeaseRequest* request,
                                               v1::LeaseResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return Answer(context, denied);
  absl::StatusOr<std::optional<v1::Lease>> lease = scheduler_->Lease(*request);
  if (!lease.ok()) return Answer(context, ToGrpcStatus(lease.status()));
  if (lease->has_value()) {
    *response->mutable_lease() = std::move(**lease);
    return Answer(context, grpc::Status::OK);
  }
  absl::Duration wait = std::min(absl::Seconds(request->wait_seconds()), max_lease_wait_);
  if (wait <= absl::ZeroDuration()) return Answer(context, grpc::Status::OK);
  auto* parked = new ParkedLease(waitlist_, response);
  parked->Park(*request, absl::Now() + wait);
  return parked;
}

grpc::ServerUnaryReactor* WorkerService::Heartbeat(grpc::CallbackServerContext* context,
                                                   const v1::HeartbeatRequest* request,
                                                   v1::HeartbeatResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return Answer(context, denied);
  absl::StatusOr<v1::HeartbeatResponse> beat = scheduler_->Heartbeat(*request);
  if (beat.ok()) *response = std::move(beat).value();
  return Answer(context, ToGrpcStatus(beat.status()));
}

grpc::ServerUnaryReactor* WorkerService::Report(grpc::CallbackServerContext* context,
                                                const v1::ReportRequest* request,
                                                v1::ReportResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return Answer(context, denied);
  absl::StatusOr<v1::ReportStatus> status = scheduler_->Report(*request);
  if (status.ok()) response->set_status(*status);
  return Answer(context, ToGrpcStatus(status.status()));
}

grpc::ServerUnaryReactor* WorkerService::Deregister(grpc::CallbackServerContext* context,
                                                    const v1::DeregisterRequest* request,
                                                    v1::DeregisterResponse* /*response*/) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return Answer(context, denied);
  return Answer(context, ToGrpcStatus(scheduler_->Deregister(request->worker_id())));
}

}  // namespace llmq
