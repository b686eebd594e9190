#include "storage/codec.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace llmq {
namespace {

// `text` as a JSON string literal.
void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\t': out->append("\\t"); break;
      case '\r': out->append("\\r"); break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// A parameter value as JSON: integers and finite decimals as numbers (in their canonical
// text), the rest as strings.
void AppendParamValue(const std::string& text, std::string* out) {
  int64_t integer = 0;
  double number = 0;
  if (absl::SimpleAtoi(text, &integer)) {
    absl::StrAppend(out, integer);
  } else if (text.find_first_of(".eE") != std::string::npos && absl::SimpleAtod(text, &number) &&
             std::isfinite(number)) {
    out->append(nlohmann::json(number).dump());
  } else {
    AppendJsonString(text, out);
  }
}

constexpr JobState kJobStates[] = {JobState::kUnspecified, JobState::kPending,
                                   JobState::kLeased,      JobState::kRunning,
                                   JobState::kSucceeded,   JobState::kFailed,
                                   JobState::kCancelled};
constexpr ErrorClass kErrorClasses[] = {
    ErrorClass::kUnspecified, ErrorClass::kTransient, ErrorClass::kOutOfMemory,
    ErrorClass::kDeterministic, ErrorClass::kTimeout, ErrorClass::kPreempted,
    ErrorClass::kWorkerLost, ErrorClass::kCrashed};

}  // namespace

// The names are llmq.proto's: existing databases hold them, and analysts query them.
std::string JobStateName(JobState state) {
  switch (state) {
    case JobState::kUnspecified: return "JOB_STATE_UNSPECIFIED";
    case JobState::kPending: return "PENDING";
    case JobState::kLeased: return "LEASED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kSucceeded: return "SUCCEEDED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELLED";
  }
  return "JOB_STATE_UNSPECIFIED";
}

JobState ParseJobState(absl::string_view name) {
  for (JobState state : kJobStates) {
    if (name == JobStateName(state)) return state;
  }
  return JobState::kUnspecified;
}

std::string ErrorClassName(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kUnspecified: return "";
    case ErrorClass::kTransient: return "TRANSIENT";
    case ErrorClass::kOutOfMemory: return "OUT_OF_MEMORY";
    case ErrorClass::kDeterministic: return "DETERMINISTIC";
    case ErrorClass::kTimeout: return "TIMEOUT";
    case ErrorClass::kPreempted: return "PREEMPTED";
    case ErrorClass::kWorkerLost: return "WORKER_LOST";
    case ErrorClass::kCrashed: return "CRASHED";
  }
  return "";
}

ErrorClass ParseErrorClass(absl::string_view name) {
  for (ErrorClass error_class : kErrorClasses) {
    if (name == ErrorClassName(error_class)) return error_class;
  }
  return ErrorClass::kUnspecified;
}

std::string ParamsToJson(const std::map<std::string, std::string>& params) {
  // Written by hand: this runs for every job of every submitted grid. Keys come in
  // order (std::map), which makes the text canonical.
  std::string out = "{";
  for (const auto& [key, value] : params) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(key, &out);
    out.push_back(':');
    AppendParamValue(value, &out);
  }
  out.push_back('}');
  return out;
}

std::string StringMapToJson(const std::map<std::string, std::string>& values) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : values) object[key] = value;
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::map<std::string, std::string> JsonToStringMap(absl::string_view json) {
  std::map<std::string, std::string> values;
  nlohmann::json object = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!object.is_object()) return values;
  for (const auto& [key, value] : object.items()) {
    values[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return values;
}

std::string StringListToJson(const std::vector<std::string>& values) {
  return nlohmann::json(values).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> JsonToStringList(absl::string_view json) {
  std::vector<std::string> values;
  nlohmann::json array = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!array.is_array()) return values;
  for (const auto& value : array) {
    if (value.is_string()) values.push_back(value.get<std::string>());
  }
  return values;
}

std::string CalibrationToJson(const NewJob::Calibration& calibration) {
  if (calibration.dataset.empty()) return "{}";
  std::string out = "{\"dataset\":";
  AppendJsonString(calibration.dataset, &out);
  absl::StrAppend(&out, ",\"mode\":");
  AppendJsonString(calibration.mode, &out);
  absl::StrAppend(&out, ",\"samples\":", calibration.samples, ",\"seed\":", calibration.seed,
                  ",\"seq_len\":", calibration.seq_len, "}");
  return out;
}

std::string TimingsToJson(const std::vector<ResultRecord::Timing>& timings) {
  nlohmann::json object = nlohmann::json::object();
  for (const ResultRecord::Timing& timing : timings) {
    object[timing.stage] = timing.seconds;
  }
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmq
