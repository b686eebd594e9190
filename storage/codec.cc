#include "storage/codec.h"

#include <cmath>
#include <algorithm>
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
  // Written by hand: this runs for every job of every submitted grid.
  std::vector<std::pair<absl::string_view, const std::string*>> sorted;
  sorted.reserve(params.size());
  for (const auto& [key, value] : params) sorted.emplace_back(key, &value);
  std::sort(sorted.begin(), sorted.end());  // canonical text: keys in order
  std::string out = "{";
  for (const auto& [key, value] : sorted) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(key, &out);
    out.push_back(':');
    AppendParamValue(*value, &out);
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

std::string CalibrationToJson(const v1::CalibrationSpec& calibration) {
  if (calibration.dataset().empty()) return "{}";
  std::string out = "{\"dataset\":";
  AppendJsonString(calibration.dataset(), &out);
  absl::StrAppend(&out, ",\"mode\":");
  AppendJsonString(calibration.mode(), &out);
  absl::StrAppend(&out, ",\"samples\":", calibration.samples(), ",\"seed\":", calibration.seed(),
                  ",\"seq_len\":", calibration.seq_len(), "}");
  return out;
}

std::string TimingsToJson(const google::protobuf::RepeatedPtrField<v1::StageTiming>& timings) {
  nlohmann::json object = nlohmann::json::object();
  for (const v1::StageTiming& timing : timings) {
    object[timing.stage()] = timing.seconds();
  }
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmq
