#include "coordinator/store_codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "storage/codec.h"

namespace llmq {

JobState FromProto(v1::JobState state) {
  switch (state) {
    case v1::PENDING: return JobState::kPending;
    case v1::LEASED: return JobState::kLeased;
    case v1::RUNNING: return JobState::kRunning;
    case v1::SUCCEEDED: return JobState::kSucceeded;
    case v1::FAILED: return JobState::kFailed;
    case v1::CANCELLED: return JobState::kCancelled;
    default: return JobState::kUnspecified;
  }
}

v1::JobState ToProto(JobState state) {
  switch (state) {
    case JobState::kUnspecified: return v1::JOB_STATE_UNSPECIFIED;
    case JobState::kPending: return v1::PENDING;
    case JobState::kLeased: return v1::LEASED;
    case JobState::kRunning: return v1::RUNNING;
    case JobState::kSucceeded: return v1::SUCCEEDED;
    case JobState::kFailed: return v1::FAILED;
    case JobState::kCancelled: return v1::CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

ErrorClass FromProto(v1::ErrorClass error_class) {
  switch (error_class) {
    case v1::TRANSIENT: return ErrorClass::kTransient;
    case v1::OUT_OF_MEMORY: return ErrorClass::kOutOfMemory;
    case v1::DETERMINISTIC: return ErrorClass::kDeterministic;
    case v1::TIMEOUT: return ErrorClass::kTimeout;
    case v1::PREEMPTED: return ErrorClass::kPreempted;
    case v1::WORKER_LOST: return ErrorClass::kWorkerLost;
    case v1::CRASHED: return ErrorClass::kCrashed;
    default: return ErrorClass::kUnspecified;
  }
}

v1::ErrorClass ToProto(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kUnspecified: return v1::ERROR_CLASS_UNSPECIFIED;
    case ErrorClass::kTransient: return v1::TRANSIENT;
    case ErrorClass::kOutOfMemory: return v1::OUT_OF_MEMORY;
    case ErrorClass::kDeterministic: return v1::DETERMINISTIC;
    case ErrorClass::kTimeout: return v1::TIMEOUT;
    case ErrorClass::kPreempted: return v1::PREEMPTED;
    case ErrorClass::kWorkerLost: return v1::WORKER_LOST;
    case ErrorClass::kCrashed: return v1::CRASHED;
  }
  return v1::ERROR_CLASS_UNSPECIFIED;
}

NewJob FromProto(const v1::JobSpec& spec) {
  NewJob job;
  job.job_key = spec.job_key();
  job.quant_key = spec.quant_key();
  job.priority = spec.priority();
  job.device = spec.resources().device();
  job.memory_bytes = spec.resources().memory_bytes();
  job.timeout_seconds = spec.timeout_seconds();
  job.model = spec.model().alias();
  job.model_path = spec.model().path();
  job.dtype = spec.model().dtype();
  job.method = spec.method().name();
  job.method_params.insert(spec.method().params().begin(), spec.method().params().end());
  job.task = spec.task().name();
  job.task_params.insert(spec.task().params().begin(), spec.task().params().end());
  job.calibration.dataset = spec.calibration().dataset();
  job.calibration.samples = spec.calibration().samples();
  job.calibration.seq_len = spec.calibration().seq_len();
  job.calibration.seed = spec.calibration().seed();
  job.calibration.mode = spec.calibration().mode();
  job.repeat = spec.repeat();
  job.spec = spec.SerializeAsString();
  return job;
}

ResultRecord FromProto(const v1::JobResult& result) {
  ResultRecord record;
  for (const v1::Metric& metric : result.metrics()) {
    ResultRecord::Metric& stored = record.metrics.emplace_back();
    stored.name = metric.name();
    stored.value = metric.value();
    stored.unit = metric.unit();
    if (metric.has_ci_low() && metric.has_ci_high()) {
      stored.ci_low = metric.ci_low();
      stored.ci_high = metric.ci_high();
    }
  }
  record.provenance.insert(result.provenance().begin(), result.provenance().end());
  for (const v1::StageTiming& timing : result.timings()) {
    record.timings.push_back({timing.stage(), timing.seconds()});
  }
  if (result.has_example_scores() && result.example_scores().example_ids_size() > 0) {
    record.example_scores = result.example_scores().SerializeAsString();
    record.examples = result.example_scores().example_ids_size();
    v1::JobResult without = result;
    without.clear_example_scores();
    record.result = without.SerializeAsString();
  } else {
    record.result = result.SerializeAsString();
  }
  return record;
}

JobProgress FromProto(const v1::Progress& progress) {
  return JobProgress{progress.stage(), progress.step(), progress.total(), progress.message()};
}

ResultsFilter FromProto(const v1::QueryResultsRequest& request) {
  ResultsFilter filter;
  filter.sweep_id = request.sweep_id();
  filter.model = request.model();
  filter.method = request.method();
  filter.with_example_scores = request.with_example_scores();
  filter.task = request.task();
  return filter;
}

absl::StatusOr<v1::JobSpec> ParseStoredSpec(int64_t job_id, const std::string& spec) {
  v1::JobSpec parsed;
  if (!parsed.ParseFromString(spec)) {
    return absl::DataLossError(absl::StrCat("job ", job_id, ": unreadable spec"));
  }
  return parsed;
}

v1::SweepSummary ToProto(const SweepRow& sweep) {
  v1::SweepSummary summary;
  summary.set_sweep_id(sweep.id);
  summary.set_name(sweep.name);
  summary.set_created_unix(absl::ToUnixSeconds(sweep.created));
  for (const auto& [state, count] : sweep.jobs_by_state) {
    (*summary.mutable_jobs_by_state())[JobStateName(state)] = count;
  }
  summary.set_jobs_total(sweep.jobs_total);
  return summary;
}

absl::StatusOr<v1::JobInfo> ToProto(const JobRow& job) {
  v1::JobInfo info;
  info.set_job_id(job.id);
  LLMQ_ASSIGN_OR_RETURN(*info.mutable_spec(), ParseStoredSpec(job.id, job.spec));
  info.set_state(ToProto(job.state));
  info.set_attempts(job.attempts);
  info.set_worker_id(job.worker_id);
  info.mutable_progress()->set_stage(job.progress.stage);
  info.mutable_progress()->set_step(job.progress.step);
  info.mutable_progress()->set_total(job.progress.total);
  info.mutable_progress()->set_message(job.progress.message);
  info.set_error(job.error);
  info.set_error_class(ToProto(job.error_class));
  info.set_updated_unix(absl::ToUnixSeconds(job.updated));
  return info;
}

absl::StatusOr<v1::ResultRow> ToProto(const ResultRow& row) {
  v1::ResultRow result;
  result.set_job_id(row.job_id);
  if (!result.mutable_spec()->ParseFromString(row.spec) ||
      !result.mutable_result()->ParseFromString(row.result)) {
    return absl::DataLossError(absl::StrCat("job ", row.job_id, ": unreadable result"));
  }
  if (!row.example_scores.empty() &&
      !result.mutable_result()->mutable_example_scores()->ParseFromString(row.example_scores)) {
    return absl::DataLossError(absl::StrCat("job ", row.job_id, ": unreadable example scores"));
  }
  if (!row.sweep_name.empty()) result.mutable_spec()->set_sweep_name(row.sweep_name);
  result.set_worker_id(row.worker_id);
  result.set_finished_unix(absl::ToUnixSeconds(row.finished));
  for (const auto& [key, value] : row.provenance) {
    (*result.mutable_result()->mutable_provenance())[key] = value;
  }
  return result;
}

v1::WorkerInfo ToProto(const WorkerRow& row) {
  v1::WorkerInfo info;
  info.set_worker_id(row.worker.id);
  info.set_host(row.worker.host);
  for (const std::string& device : row.worker.devices) info.add_devices(device);
  info.set_memory_bytes(row.worker.memory_bytes);
  info.mutable_labels()->insert(row.worker.labels.begin(), row.worker.labels.end());
  info.set_version(row.worker.version);
  info.set_state(row.worker.state);
  info.set_last_seen_unix(absl::ToUnixSeconds(row.last_seen));
  if (row.current_job_id != 0) info.set_current_job_id(row.current_job_id);
  if (row.worker.slurm.has_value()) {
    v1::SlurmJob* slurm = info.mutable_slurm();
    slurm->set_job_id(row.worker.slurm->job_id);
    slurm->set_array_job_id(row.worker.slurm->array_job_id);
    slurm->set_array_task_id(row.worker.slurm->array_task_id);
  }
  return info;
}

}  // namespace llmq
