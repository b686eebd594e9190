// An evaluation task by name with its parameters: ppl, boolq, gsm8k, msmarco, mc,
// efficiency. Each returns metrics with units plus the provenance of its protocol
// (n examples, n-shot, seed, prompt-template hash, ...).
#ifndef LLMQ_EVAL_TASK_H_
#define LLMQ_EVAL_TASK_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/params.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct MetricValue {
  std::string name;
  double value = 0;
  std::string unit;  // "", "nats", "tokens", "ms", "tokens/s", "bytes", "bits/weight", ...
  // 95 % bootstrap interval over the examples, for metrics made from per-example scores.
  std::optional<double> ci_low, ci_high;
};

// One score per example, in the order of ExampleScores::ids. The metric it makes (if any)
// is transform(sum(values) / sum(weights)) (common/bootstrap.h).
struct ExampleSeries {
  std::string name;    // "correct", "loglikelihood", "nll", "ndcg_at_10"
  std::string metric;  // the metric it makes; "" for a score kept only to read
  std::vector<double> values;
  std::vector<double> weights;  // empty: each example weighs 1 (ppl: tokens per window)
  bool exp = false;             // the metric is exp of the weighted mean (ppl)
};

struct ExampleScores {
  std::vector<int64_t> ids;  // dataset index of each example (window index for ppl)
  std::vector<ExampleSeries> series;
};

struct TaskOutput {
  std::vector<MetricValue> metrics;
  std::map<std::string, std::string> provenance;
  ExampleScores examples;  // empty for tasks without examples (efficiency)
};

// Sets ci_low / ci_high of every metric that a series of `output.examples` makes: the
// percentile bootstrap with common/bootstrap.h's defaults. RunTask calls it.
void AddBootstrapIntervals(TaskOutput& output);

// progress(step, total, message).
using TaskProgress = std::function<void(int64_t, int64_t, const std::string&)>;

struct TaskContext {
  CausalLM* model = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::string model_path;  // for size-on-disk probes
  TaskProgress progress;
};

// Runs task `name`. Unknown names and bad parameters are InvalidArgument.
absl::StatusOr<TaskOutput> RunTask(const std::string& name, const Params& params,
                                   TaskContext& context);

// Individual tasks (each in its own file).
absl::StatusOr<TaskOutput> RunPerplexityTask(const Params& params, TaskContext& context);
absl::StatusOr<TaskOutput> RunEfficiencyTask(const Params& params, TaskContext& context);
absl::StatusOr<TaskOutput> RunBoolqTask(const Params& params, TaskContext& context);          // boolq.h
absl::StatusOr<TaskOutput> RunGsm8kTask(const Params& params, TaskContext& context);          // gsm8k.h
absl::StatusOr<TaskOutput> RunMsmarcoTask(const Params& params, TaskContext& context);        // msmarco.h
absl::StatusOr<TaskOutput> RunMultipleChoiceTask(const Params& params, TaskContext& context); // multiple_choice.h

}  // namespace llmq

#endif  // LLMQ_EVAL_TASK_H_
