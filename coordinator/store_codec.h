// Between the proto's messages and the store's records (storage/records.h): the one place
// where the coordinator translates, so that storage/ knows nothing of the proto. Enums map
// name for name (the store spells them as llmq.proto does); specs and results are kept
// serialized, whole, and parsed again on the way out.
#ifndef LLMQ_COORDINATOR_STORE_CODEC_H_
#define LLMQ_COORDINATOR_STORE_CODEC_H_

#include "absl/status/statusor.h"
#include "proto/llmq.pb.h"
#include "storage/records.h"

namespace llmq {

// Values the proto does not know (from a newer peer) become the unspecified ones.
JobState FromProto(v1::JobState state);
v1::JobState ToProto(JobState state);
ErrorClass FromProto(v1::ErrorClass error_class);
v1::ErrorClass ToProto(ErrorClass error_class);

// ---- into the store
// The job's columns, with the whole spec serialized.
NewJob FromProto(const v1::JobSpec& spec);
// Metrics, provenance and timings, with the whole result serialized.
ResultRecord FromProto(const v1::JobResult& result);
JobProgress FromProto(const v1::Progress& progress);
ResultsFilter FromProto(const v1::QueryResultsRequest& request);

// ---- out of the store
// DataLoss when a stored spec or result does not parse.
absl::StatusOr<v1::JobSpec> ParseStoredSpec(int64_t job_id, const std::string& spec);
v1::SweepSummary ToProto(const SweepRow& sweep);
absl::StatusOr<v1::JobInfo> ToProto(const JobRow& job);
// The result's provenance gains the coordinator's additions stored beside it (attempt, job
// key, ...); with a sweep in the query, the spec names that sweep.
absl::StatusOr<v1::ResultRow> ToProto(const ResultRow& row);
v1::WorkerInfo ToProto(const WorkerRow& worker);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_STORE_CODEC_H_
