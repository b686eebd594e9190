// How record values are spelled in the database: enums by name ('PENDING',
// 'OUT_OF_MEMORY', as llmq.proto spells them), parameter maps and provenance as JSON
// objects (numbers as JSON numbers so that analysts can sort and filter on them).
#ifndef LLMQ_STORAGE_CODEC_H_
#define LLMQ_STORAGE_CODEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "storage/records.h"

namespace llmq {

std::string JobStateName(JobState state);  // "JOB_STATE_UNSPECIFIED" for kUnspecified
JobState ParseJobState(absl::string_view name);  // kUnspecified when unknown
std::string ErrorClassName(ErrorClass error_class);  // "" for kUnspecified
ErrorClass ParseErrorClass(absl::string_view name);  // kUnspecified when unknown

// {"bits": 4, "sym": "false"}: values that read as numbers become JSON numbers.
std::string ParamsToJson(const std::map<std::string, std::string>& params);
std::string StringMapToJson(const std::map<std::string, std::string>& values);
std::map<std::string, std::string> JsonToStringMap(absl::string_view json);
std::string StringListToJson(const std::vector<std::string>& values);
std::vector<std::string> JsonToStringList(absl::string_view json);

std::string CalibrationToJson(const NewJob::Calibration& calibration);  // "{}" without a dataset
std::string TimingsToJson(const std::vector<ResultRecord::Timing>& timings);

}  // namespace llmq

#endif  // LLMQ_STORAGE_CODEC_H_
