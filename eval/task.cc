#include "eval/task.h"

#include "absl/strings/str_cat.h"
#include "common/bootstrap.h"
#include "common/status.h"
#include "grid/schema.h"

namespace llmq {

void AddBootstrapIntervals(TaskOutput& output) {
  for (const ExampleSeries& series : output.examples.series) {
    if (series.metric.empty()) continue;
    for (MetricValue& metric : output.metrics) {
      if (metric.name != series.metric) continue;
      ScoreSample sample{series.values, series.weights,
                         series.exp ? ScoreTransform::kExp : ScoreTransform::kIdentity};
      const Interval interval = BootstrapInterval(sample);
      metric.ci_low = interval.low;
      metric.ci_high = interval.high;
    }
  }
}

namespace {

absl::StatusOr<TaskOutput> RunNamedTask(const std::string& name, const Params& given,
                                        TaskContext& context) {
  const GridEntrySchema* schema = FindGridTask(name);
  if (schema == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown task '", name, "'"));
  }
  LLMQ_ASSIGN_OR_RETURN(const Params params, CompleteParams(*schema, given));
  if (name == "ppl") return RunPerplexityTask(params, context);
  if (name == "efficiency") return RunEfficiencyTask(params, context);
  if (name == "boolq") return RunBoolqTask(params, context);
  if (name == "gsm8k") return RunGsm8kTask(params, context);
  if (name == "msmarco") return RunMsmarcoTask(params, context);
  if (name == "mc") return RunMultipleChoiceTask(params, context);
  return absl::InvalidArgumentError(absl::StrCat("unknown task '", name, "'"));
}

}  // namespace

absl::StatusOr<TaskOutput> RunTask(const std::string& name, const Params& given,
                                   TaskContext& context) {
  LLMQ_ASSIGN_OR_RETURN(TaskOutput output, RunNamedTask(name, given, context));
  AddBootstrapIntervals(output);
  return output;
}

}  // namespace llmq
