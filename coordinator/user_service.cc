// UserService: what `llmq-coord` subcommands call.
#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "coordinator/grid_submission.h"
#include "coordinator/grpc_status.h"
#include "coordinator/store_codec.h"
#include "coordinator/sweep_reads.h"
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
  absl::StatusOr<SweepSubmission> submission = ExpandSubmission(*request, max_jobs_);
  absl::StatusOr<v1::SubmitSweepResponse> submitted =
      submission.ok() ? scheduler_->Submit(*submission) : submission.status();
  if (!submitted.ok()) {
    if (absl::IsInvalidArgument(submitted.status())) {
      LOG(INFO) << "event=submit_refused grid=" << request->grid_path() << " error=\""
                << submitted.status().message() << "\"";
    }
    return ToGrpcStatus(submitted.status());
  }
  // Expansion and storage are one pass (the jobs are never held together), so one time.
  LOG(INFO) << "event=sweep_expanded grid=" << request->grid_path()
            << " jobs=" << submitted->jobs_total() << " dry_run=" << request->dry_run()
            << " ms=" << absl::ToInt64Milliseconds(absl::Now() - started);
  *response = std::move(submitted).value();
  return grpc::Status::OK;
}

grpc::Status UserService::GetSweep(grpc::ServerContext* context,
                                   const v1::GetSweepRequest* request,
                                   v1::GetSweepResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) {
    return ReadSweepDetail(txn, request->sweep_id(), absl::Now(), response);
  });
}

grpc::Status UserService::ListSweeps(grpc::ServerContext* context,
                                     const v1::ListSweepsRequest* /*request*/,
                                     v1::ListSweepsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<SweepRow> sweeps, txn.ListSweeps());
    for (const SweepRow& sweep : sweeps) *response->add_sweeps() = ToProto(sweep);
    return absl::OkStatus();
  });
}

grpc::Status UserService::ListJobs(grpc::ServerContext* context,
                                   const v1::ListJobsRequest* request,
                                   v1::ListJobsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  ReadTxn::JobFilter filter;
  filter.sweep_id = request->sweep_id();
  for (int state : request->states()) {
    filter.states.push_back(FromProto(static_cast<v1::JobState>(state)));
  }
  filter.limit = request->limit();
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<JobRow> jobs, txn.ListJobs(filter));
    for (const JobRow& job : jobs) {
      LLMQ_ASSIGN_OR_RETURN(*response->add_jobs(), ToProto(job));
    }
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
    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> workers, txn.ListWorkers());
    for (const WorkerRow& worker : workers) *response->add_workers() = ToProto(worker);
    return absl::OkStatus();
  });
}

grpc::Status UserService::QueryResults(grpc::ServerContext* context,
                                       const v1::QueryResultsRequest* request,
                                       v1::QueryResultsResponse* response) {
  if (grpc::Status denied = auth_->Check(*context); !denied.ok()) return denied;
  return ReadAnswer(scheduler_, [&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<ResultRow> rows, txn.QueryResults(FromProto(*request)));
    for (const ResultRow& row : rows) {
      LLMQ_ASSIGN_OR_RETURN(*response->add_rows(), ToProto(row));
    }
    return absl::OkStatus();
  });
}

}  // namespace llmq
