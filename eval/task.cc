#include "eval/task.h"

#include "absl/strings/str_cat.h"

namespace llmq {

absl::StatusOr<TaskOutput> RunTask(const std::string& name, const Params& params,
                                   TaskContext& context) {
  if (name == "ppl") return RunPerplexityTask(params, context);
  if (name == "efficiency") return RunEfficiencyTask(params, context);
  return absl::InvalidArgumentError(absl::StrCat("unknown task '", name, "'"));
}

}  // namespace llmq
