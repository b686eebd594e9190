// Typed access to a method's or task's parameters, which travel as canonical strings
// (the grid file's values after expansion). Errors name the parameter and the value.
#ifndef LLMQ_COMMON_PARAMS_H_
#define LLMQ_COMMON_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

using Params = std::map<std::string, std::string>;

absl::StatusOr<int64_t> GetInt(const Params& params, const std::string& name, int64_t fallback);
absl::StatusOr<double> GetDouble(const Params& params, const std::string& name, double fallback);
absl::StatusOr<bool> GetBool(const Params& params, const std::string& name, bool fallback);
std::string GetString(const Params& params, const std::string& name, const std::string& fallback);
// A comma-separated list of integers ("128,512,2048").
absl::StatusOr<std::vector<int64_t>> GetIntList(const Params& params, const std::string& name,
                                                const std::vector<int64_t>& fallback);

}  // namespace llmq

#endif  // LLMQ_COMMON_PARAMS_H_
