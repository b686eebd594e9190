// Typed access to a method's or task's parameters, which travel as canonical strings
// (the grid file's values after expansion). There are no fallback values here: every
// parameter and its default is written once, in the grid schema (grid/schema.h), and
// readers get parameters completed from it (CompleteParams). A missing parameter is
// therefore an error that names it. Errors name the parameter and the value.
#ifndef LLMQ_COMMON_PARAMS_H_
#define LLMQ_COMMON_PARAMS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

using Params = std::map<std::string, std::string>;

absl::StatusOr<int64_t> GetInt(const Params& params, const std::string& name);
absl::StatusOr<double> GetDouble(const Params& params, const std::string& name);
absl::StatusOr<bool> GetBool(const Params& params, const std::string& name);
absl::StatusOr<std::string> GetString(const Params& params, const std::string& name);
// A comma-separated list of integers ("128,512,2048").
absl::StatusOr<std::vector<int64_t>> GetIntList(const Params& params, const std::string& name);

// While one lives, records the name of every parameter the getters above are asked for on
// this thread: how tests prove that a reader asks only for parameters the schema has, and
// for every one of them. Not nestable.
class ParamReadLog {
 public:
  ParamReadLog();
  ~ParamReadLog();
  ParamReadLog(const ParamReadLog&) = delete;
  ParamReadLog& operator=(const ParamReadLog&) = delete;

  const std::set<std::string>& names() const { return names_; }

 private:
  friend void NoteParamRead(const std::string& name);
  std::set<std::string> names_;
};

}  // namespace llmq

#endif  // LLMQ_COMMON_PARAMS_H_
