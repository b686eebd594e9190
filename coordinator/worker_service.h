// The gRPC face of the coordinator for workers: a thin adapter that checks the caller's
// token, converts messages and statuses, and hands everything else to the Scheduler.
// It uses the callback API so that a long-polled Lease parks in the LeaseWaitlist instead
// of holding a thread.
#ifndef LLMQ_COORDINATOR_WORKER_SERVICE_H_
#define LLMQ_COORDINATOR_WORKER_SERVICE_H_

#include "absl/time/time.h"
#include "coordinator/auth.h"
#include "coordinator/lease_waitlist.h"
#include "coordinator/scheduler.h"
#include "proto/llmq.grpc.pb.h"

namespace llmq {
class WorkerService final : public v1::LlmqWorker::CallbackService {
 public:
  // A Lease waits at most `max_lease_wait`, whatever the worker asks for.
  WorkerService(Scheduler* scheduler, const TokenAuthenticator* auth, LeaseWaitlist* waitlist,
                absl::Duration max_lease_wait)
      : scheduler_(scheduler), auth_(auth), waitlist_(waitlist), max_lease_wait_(max_lease_wait) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerUnaryReactor* Lease(grpc::CallbackServerContext* context,
                                  const v1::LeaseRequest* request,
                                  v1::LeaseResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context,
                                   const v1::ReportRequest* request,
                                   v1::ReportResponse* response) override;
  grpc::ServerUnaryReactor* Deregister(grpc::CallbackServerContext* context,
                                       const v1::DeregisterRequest* request,
                                       v1::DeregisterResponse* response) override;

 private:
  Scheduler* const scheduler_;
  const TokenAuthenticator* const auth_;
  LeaseWaitlist* const waitlist_;
  const absl::Duration max_lease_wait_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_WORKER_SERVICE_H_
