#include "storage/codec.h"

#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"

namespace llmq {
namespace {

// A parameter value as JSON: integers and finite decimals as numbers, the rest as text.
nlohmann::json ParamValue(const std::string& text) {
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer)) return integer;
  double number = 0;
  if (text.find_first_of(".eE") != std::string::npos && absl::SimpleAtod(text, &number) &&
      std::isfinite(number)) {
    return number;
  }
  return text;
}

}  // namespace

std::string JobStateName(v1::JobState state) { return v1::JobState_Name(state); }

v1::JobState ParseJobState(absl::string_view name) {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (!v1::JobState_Parse(std::string(name), &state)) return v1::JOB_STATE_UNSPECIFIED;
  return state;
}

std::string ErrorClassName(v1::ErrorClass error_class) {
  if (error_class == v1::ERROR_CLASS_UNSPECIFIED) return "";
  return v1::ErrorClass_Name(error_class);
}

v1::ErrorClass ParseErrorClass(absl::string_view name) {
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  if (name.empty() || !v1::ErrorClass_Parse(std::string(name), &error_class)) {
    return v1::ERROR_CLASS_UNSPECIFIED;
  }
  return error_class;
}

std::string ParamsToJson(const google::protobuf::Map<std::string, std::string>& params) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : params) object[key] = ParamValue(value);
  return object.dump();  // nlohmann's object keeps keys sorted: canonical text
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

std::string CalibrationToJson(const v1::CalibrationSpec& calibration) {
  if (calibration.dataset().empty()) return "{}";
  nlohmann::json object = {{"dataset", calibration.dataset()},
                           {"samples", calibration.samples()},
                           {"seq_len", calibration.seq_len()},
                           {"seed", calibration.seed()},
                           {"mode", calibration.mode()}};
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TimingsToJson(const google::protobuf::RepeatedPtrField<v1::StageTiming>& timings) {
  nlohmann::json object = nlohmann::json::object();
  for (const v1::StageTiming& timing : timings) {
    object[timing.stage()] = timing.seconds();
  }
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmq
