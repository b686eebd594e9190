// The gRPC face of the coordinator for users: a thin adapter that checks the caller's
// token, converts messages and statuses, and hands everything else to the Scheduler (writes)
// or the Store (queries). It is synchronous: its calls are short or, like a large submit,
// worth a thread.
#ifndef LLMQ_COORDINATOR_USER_SERVICE_H_
#define LLMQ_COORDINATOR_USER_SERVICE_H_

#include "coordinator/auth.h"
#include "coordinator/scheduler.h"
#include "proto/llmq.grpc.pb.h"

namespace llmq {

class UserService final : public v1::LlmqUser::Service {
 public:
  // Borrows everything; all must outlive the service. SubmitSweep refuses grids of more
  // than `max_jobs` jobs (CountGridJobs) before expanding them.
  UserService(Scheduler* scheduler, const TokenAuthenticator* auth, int64_t max_jobs)
      : scheduler_(scheduler), auth_(auth), max_jobs_(max_jobs) {}

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
  const int64_t max_jobs_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_USER_SERVICE_H_
