// The gRPC face of the coordinator: thin adapters that check the caller's token, convert
// messages and statuses, and hand everything else to the Scheduler (writes) or the Store
// (queries). LlmqWorker uses the callback API so that a long-polled Lease parks in the
// LeaseWaitlist instead of holding a thread; LlmqUser is synchronous (its calls are short
// or, like a large submit, worth a thread).
#ifndef LLMQ_COORDINATOR_SERVICES_H_
#define LLMQ_COORDINATOR_SERVICES_H_

#include "absl/time/time.h"
#include "coordinator/auth.h"
#include "coordinator/lease_waitlist.h"
#include "coordinator/scheduler.h"
#include "proto/llmq.grpc.pb.h"

namespace llmq {

class UserService final : public v1::LlmqUser::Service {
 public:
  // Borrows everything; all must outlive the service.
  UserService(Scheduler* scheduler, const TokenAuthenticator* auth)
      : scheduler_(scheduler), auth_(auth) {}

  grpc::Status SubmitSweep(grpc::ServerContext* context, const v1::SubmitSweepRequest* request,
                           v1::SubmitSweepResponse* response) override;
  grpc::Status GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                        v1::GetSweepResponse* response) override;
  grpc::Status ListSweeps(grpc::ServerContext* context, const v1::ListSweepsRequest* request,
                          v1::ListSweepsResponse* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelSweep(grpc::ServerContext* context, const v1::CancelSweepRequest* request,
                           v1::CancelSweepResponse* response) override;
  grpc::Status RetryJobs(grpc::ServerContext* context, const v1::RetryJobsRequest* request,
                         v1::RetryJobsResponse* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status QueryResults(grpc::ServerContext* context,
                            const v1::QueryResultsRequest* request,
                            v1::QueryResultsResponse* response) override;

 private:
  Scheduler* const scheduler_;
  const TokenAuthenticator* const auth_;
};

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

#endif  // LLMQ_COORDINATOR_SERVICES_H_
