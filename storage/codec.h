// How proto values are spelled in the database: enums as their proto names
// ('PENDING', 'OUT_OF_MEMORY'), parameter maps and provenance as JSON objects (numbers
// as JSON numbers so that analysts can sort and filter on them).
#ifndef LLMQ_STORAGE_CODEC_H_
#define LLMQ_STORAGE_CODEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "proto/llmq.pb.h"

namespace llmq {

std::string JobStateName(v1::JobState state);
v1::JobState ParseJobState(absl::string_view name);  // UNSPECIFIED when unknown
std::string ErrorClassName(v1::ErrorClass error_class);  // "" for UNSPECIFIED
v1::ErrorClass ParseErrorClass(absl::string_view name);

// {"bits": 4, "sym": "false"}: values that read as numbers become JSON numbers.
std::string ParamsToJson(const google::protobuf::Map<std::string, std::string>& params);
std::string StringMapToJson(const std::map<std::string, std::string>& values);
std::map<std::string, std::string> JsonToStringMap(absl::string_view json);
std::string StringListToJson(const std::vector<std::string>& values);
std::vector<std::string> JsonToStringList(absl::string_view json);

std::string CalibrationToJson(const v1::CalibrationSpec& calibration);
std::string TimingsToJson(const google::protobuf::RepeatedPtrField<v1::StageTiming>& timings);

}  // namespace llmq

#endif  // LLMQ_STORAGE_CODEC_H_
