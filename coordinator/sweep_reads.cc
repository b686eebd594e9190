#include "coordinator/sweep_reads.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "coordinator/store_codec.h"
#include "coordinator/sweep_eta.h"

namespace llmq {

absl::Status ReadSweepDetail(ReadTxn& txn, int64_t sweep_id, absl::Time now,
                             v1::GetSweepResponse* response) {
  LLMQ_ASSIGN_OR_RETURN(std::optional<SweepRow> sweep, txn.GetSweep(sweep_id));
  if (!sweep.has_value()) return absl::NotFoundError(absl::StrCat("no sweep ", sweep_id));
  *response->mutable_summary() = ToProto(*sweep);
  ReadTxn::JobFilter filter;
  filter.sweep_id = sweep_id;
  filter.states = {JobState::kLeased, JobState::kRunning};
  LLMQ_ASSIGN_OR_RETURN(std::vector<JobRow> running, txn.ListJobs(filter));
  for (const JobRow& job : running) {
    LLMQ_ASSIGN_OR_RETURN(*response->add_running(), ToProto(job));
  }
  LLMQ_ASSIGN_OR_RETURN(std::vector<SweepCostRow> costs, txn.SweepCosts(sweep_id));
  for (const SweepCostRow& row : costs) {
    v1::CostComparison& cost = *response->add_costs();
    cost.set_model(row.model);
    cost.set_method(row.method);
    cost.set_jobs(row.jobs);
    cost.set_finished(row.finished);
    cost.set_predicted_seconds(row.predicted_finished);
    cost.set_actual_seconds(row.actual_seconds);
  }
  LLMQ_ASSIGN_OR_RETURN(v1::SweepEta eta, ReadSweepEta(txn, sweep_id, now));
  if (eta.jobs() > 0) *response->mutable_eta() = eta;
  return absl::OkStatus();
}

}  // namespace llmq
