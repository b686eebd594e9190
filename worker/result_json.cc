#include "worker/result_json.h"

#include <map>
#include <string>

#include "nlohmann/json.hpp"

namespace llmq {

std::string JobResultToJson(const v1::JobResult& result, int indent) {
  nlohmann::ordered_json json;
  json["metrics"] = nlohmann::ordered_json::object();
  for (const v1::Metric& metric : result.metrics()) {
    json["metrics"][metric.name()] = {{"value", metric.value()}, {"unit", metric.unit()}};
  }
  json["provenance"] = nlohmann::ordered_json::object();
  // A protobuf map iterates in no fixed order; sorted keys make the output diffable.
  std::map<std::string, std::string> provenance(result.provenance().begin(),
                                                result.provenance().end());
  for (const auto& [key, value] : provenance) json["provenance"][key] = value;
  json["timings"] = nlohmann::ordered_json::object();
  for (const v1::StageTiming& timing : result.timings()) {
    double seconds = timing.seconds();
    if (json["timings"].contains(timing.stage())) {
      seconds += json["timings"][timing.stage()].get<double>();
    }
    json["timings"][timing.stage()] = seconds;
  }
  // Invalid UTF-8 in a provenance string is replaced rather than thrown on.
  return json.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace llmq
