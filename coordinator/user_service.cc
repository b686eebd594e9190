// UserService: what `llmq-coord` subcommands call.
#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "coordinator/grid_submission.h"
#include "coordinator/grpc_status.h"
#include "coordinator/user_service.h"

namespace llmq {
namespace {

// Runs `fn` over a read snapshot and converts its status.
template <typename Fn>
grpc::Status ReadAnswer(Scheduler* scheduler, Fn&& fn) {
  return ToGrpcStatus(scheduler->store()->Read(std::forward<Fn>(fn)));
}

}  // namespace

grpc::Status UserService::SubmitSweep(grpc::ServerContext* context,
                                      const v1::SubmitSweepRequest* request,
                                      v1::SubmitSweepResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  const absl::Time started = absl::Now();
  absl::StatusOr<SweepSubmission> submission = ExpandSubmission(*request);
  if (!submission.ok()) {
    LOG(INFO) << "event=submit_refused grid=" << request->grid_path() << " error=\""
              << submission.status().message() << "\"";
    return ToGrpcStatus(submission.status());
  }
  LOG(INFO) << "event=sweep_expanded grid=" << request->grid_path()
            << " jobs=" << submission->jobs.size()
            << " ms=" << absl::ToInt64Milliseconds(absl::Now() - started);
  absl::StatusOr<v1::SubmitSweepResponse> submitted = scheduler_->Submit(*submission);
  if (!submitted.ok()) return ToGrpcStatus(submitted.status());
  *response = std::move(submitted).value();
  return grpc::Status::OK;
}

grpc::Status UserService::GetSweep(grpc::ServerContext* context,
                                   const v1::GetSweepRequest* request,
                                   v1::GetSweepResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::optional<v1::SweepSummary> summary,
                          txn.GetSweep(request->sweep_id()));
    if (!summary.has_value()) {
      return absl::NotFoundError(absl::StrCat("no sweep ", request->sweep_id()));
    }
    *response->mutable_summary() = std::move(*summary);
    ReadTxn::JobFilter filter;
    filter.sweep_id = request->sweep_id();
    filter.states = {v1::LEASED, v1::RUNNING};
    LLMQ_ASSIGN_OR_RETURN(std::vector<v1::JobInfo> running, txn.ListJobs(filter));
    for (v1::JobInfo& job : running) *response->add_running() = std::move(job);
    return absl::OkStatus();
  });
}

grpc::Status UserService::ListSweeps(grpc::ServerContext* context,
                                     const v1::ListSweepsRequest* /*request*/,
                                     v1::ListSweepsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<v1::SweepSummary> sweeps, txn.ListSweeps());
    for (v1::SweepSummary& sweep : sweeps) *response->add_sweeps() = std::move(sweep);
    return absl::OkStatus();
  });
}

grpc::Status UserService::ListJobs(grpc::ServerContext* context,
                                   const v1::ListJobsRequest* request,
                                   v1::ListJobsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  ReadTxn::JobFilter filter;
  filter.sweep_id = request->sweep_id();
  for (int state : request->states()) filter.states.push_back(static_cast<v1::JobState>(state));
  filter.limit = request->limit();
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<v1::JobInfo> jobs, txn.ListJobs(filter));
    for (v1::JobInfo& job : jobs) *response->add_jobs() = std::move(job);
    return absl::OkStatus();
  });
}

grpc::Status UserService::CancelSweep(grpc::ServerContext* context,
                                      const v1::CancelSweepRequest* request,
                                      v1::CancelSweepResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  absl::StatusOr<int64_t> cancelled = scheduler_->CancelSweep(request->sweep_id());
  if (!cancelled.ok()) return ToGrpcStatus(cancelled.status());
  response->set_jobs_cancelled(*cancelled);
  return grpc::Status::OK;
}

grpc::Status UserService::RetryJobs(grpc::ServerContext* context,
                                    const v1::RetryJobsRequest* request,
                                    v1::RetryJobsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  std::vector<int64_t> job_ids(request->job_ids().begin(), request->job_ids().end());
  absl::StatusOr<int64_t> requeued = scheduler_->RetryJobs(request->sweep_id(), job_ids);
  if (!requeued.ok()) return ToGrpcStatus(requeued.status());
  response->set_jobs_requeued(*requeued);
  return grpc::Status::OK;
}

grpc::Status UserService::ListWorkers(grpc::ServerContext* context,
                                      const v1::ListWorkersRequest* /*request*/,
                                      v1::ListWorkersResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<v1::WorkerInfo> workers, txn.ListWorkers());
    for (v1::WorkerInfo& worker : workers) *response->add_workers() = std::move(worker);
    return absl::OkStatus();
  });
}

grpc::Status UserService::QueryResults(grpc::ServerContext* context,
                                       const v1::QueryResultsRequest* request,
                                       v1::QueryResultsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<v1::ResultRow> rows, txn.QueryResults(*request));
    for (v1::ResultRow& row : rows) *response->add_rows() = std::move(row);
    return absl::OkStatus();
  });
}

}  // namespace llmq
