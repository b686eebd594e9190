#include "proto/grid_keys.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/version.h"
#include "proto/grid_schema.h"

namespace llmq {
namespace {

// Bump when the record layout changes (not when results change: that is kResultVersion).
constexpr char kJobRecordVersion[] = "llmq-job-key/1";
constexpr char kQuantRecordVersion[] = "llmq-quant-key/1";

void AddLine(std::string* record, absl::string_view name, absl::string_view value) {
  absl::StrAppend(record, name, "=", absl::CEscape(value), "\n");
}

// A dataset value as it enters a key: a bundled name as itself, a file as its identity.
absl::StatusOr<std::string> KeyValue(const GridParamSchema& param, const std::string& value,
                                     const PathIdentities& identities) {
  if (!IsFileValue(param, value)) return value;
  const auto it = identities.find(value);
  if (it == identities.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(param.name, ": no identity for file ", value,
                     " (compute it with ComputeGridIdentities)"));
  }
  return absl::StrCat("file:", it->second);
}

// The result-affecting parameters of `params` under `schema`, defaults filled in, sorted,
// one line each.
absl::Status AddParams(const GridEntrySchema& schema, absl::string_view prefix,
                       const google::protobuf::Map<std::string, std::string>& params,
                       const PathIdentities& identities, std::string* record) {
  LLMQ_ASSIGN_OR_RETURN(
      const auto complete,
      CompleteParams(schema, std::map<std::string, std::string>(params.begin(), params.end())));
  for (const auto& [name, value] : complete) {  // std::map: sorted by name
    const GridParamSchema* param = schema.FindParam(name);
    if (!param->affects_result) continue;
    LLMQ_ASSIGN_OR_RETURN(const std::string key_value, KeyValue(*param, value, identities));
    AddLine(record, absl::StrCat(prefix, name), key_value);
  }
  return absl::OkStatus();
}

absl::StatusOr<const GridEntrySchema*> MethodSchema(const v1::JobSpec& job) {
  const GridEntrySchema* method = FindGridMethod(job.method().name());
  if (method == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown method ", job.method().name()));
  }
  return method;
}

// The fields quant_key and job_key share: model, method, calibration.
absl::Status AddQuantFields(const v1::JobSpec& job, const PathIdentities& identities,
                            std::string* record) {
  if (job.model().identity().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", job.model().path(), " has no identity"));
  }
  LLMQ_ASSIGN_OR_RETURN(const GridEntrySchema* method, MethodSchema(job));
  AddLine(record, "model.identity", job.model().identity());
  AddLine(record, "model.dtype", job.model().dtype());
  AddLine(record, "method.name", method->name);
  LLMQ_RETURN_IF_ERROR(
      AddParams(*method, "method.", job.method().params(), identities, record));
  if (!method->calibrates) return absl::OkStatus();
  const v1::CalibrationSpec& calibration = job.calibration();
  const GridParamSchema* dataset = GridCalibrationSchema().FindParam("dataset");
  LLMQ_ASSIGN_OR_RETURN(const std::string dataset_value,
                        KeyValue(*dataset, calibration.dataset(), identities));
  AddLine(record, "calibration.dataset", dataset_value);
  AddLine(record, "calibration.samples", absl::StrCat(calibration.samples()));
  AddLine(record, "calibration.seq_len", absl::StrCat(calibration.seq_len()));
  AddLine(record, "calibration.seed", absl::StrCat(calibration.seed()));
  AddLine(record, "calibration.mode", calibration.mode());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CanonicalQuantRecord(const v1::JobSpec& job,
                                                 const PathIdentities& identities) {
  std::string record = absl::StrCat(kQuantRecordVersion, "\n");
  AddLine(&record, "result_version", absl::StrCat(kResultVersion));
  LLMQ_RETURN_IF_ERROR(AddQuantFields(job, identities, &record));
  return record;
}

absl::StatusOr<std::string> CanonicalJobRecord(const v1::JobSpec& job,
                                               const PathIdentities& identities) {
  std::string record = absl::StrCat(kJobRecordVersion, "\n");
  AddLine(&record, "result_version", absl::StrCat(kResultVersion));
  LLMQ_RETURN_IF_ERROR(AddQuantFields(job, identities, &record));
  const GridEntrySchema* task = FindGridTask(job.task().name());
  if (task == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown task ", job.task().name()));
  }
  AddLine(&record, "task.name", task->name);
  LLMQ_RETURN_IF_ERROR(AddParams(*task, "task.", job.task().params(), identities, &record));
  AddLine(&record, "repeat", absl::StrCat(job.repeat()));
  return record;
}

absl::StatusOr<std::string> ComputeJobKey(const v1::JobSpec& job,
                                          const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const std::string record, CanonicalJobRecord(job, identities));
  return Sha256Hex(record);
}

absl::StatusOr<std::string> ComputeQuantKey(const v1::JobSpec& job,
                                            const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const std::string record, CanonicalQuantRecord(job, identities));
  return Sha256Hex(record);
}

}  // namespace llmq
