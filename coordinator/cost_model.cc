#include "coordinator/cost_model.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grid/schema.h"
#include "storage/codec.h"

namespace llmq {
namespace {

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& map) {
  return std::map<std::string, std::string>(map.begin(), map.end());
}

std::string MethodName(const v1::JobSpec& spec) {
  return spec.method().name().empty() ? "none" : spec.method().name();
}

std::string CellKey(const std::string& model, const std::string& method,
                    const std::string& method_params, const std::string& task,
                    const std::string& task_params) {
  return absl::StrCat(model, "\x1f", method, "\x1f", method_params, "\x1f", task, "\x1f", task_params);
}

std::string TaskKey(const std::string& model, const std::string& method, const std::string& task) {
  return absl::StrCat(model, "\x1f", method, "\x1f", task);
}

// A task parameter with the schema's default filled in; `fallback` when unreadable.
double TaskNumber(const std::map<std::string, std::string>& params, const std::string& name,
                  double fallback) {
  auto it = params.find(name);
  double value = 0;
  if (it == params.end() || !absl::SimpleAtod(it->second, &value)) return fallback;
  return value;
}

double SumList(const std::map<std::string, std::string>& params, const std::string& name,
               double fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  double sum = 0;
  for (absl::string_view part : absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
    double value = 0;
    if (absl::SimpleAtod(part, &value)) sum += value;
  }
  return sum;
}

// Tokens one forward-pass-equivalent sees for the task.
double TaskTokens(const v1::JobSpec& spec) {
  const std::string& task = spec.task().name();
  std::map<std::string, std::string> params = ToMap(spec.task().params());
  if (const GridEntrySchema* schema = FindGridTask(task); schema != nullptr) {
    auto completed = CompleteParams(*schema, params);
    if (completed.ok()) params = *completed;
  }
  auto limit = [&](double all) {
    const double given = TaskNumber(params, "limit", 0);
    return given > 0 ? given : all;
  };
  if (task == "ppl") {
    const double windows = TaskNumber(params, "limit", 0);
    return windows > 0 ? windows * TaskNumber(params, "context", 2048) : kFullCorpusTokens;
  }
  if (task == "boolq") return limit(3270) * 2 * kPromptTokens;
  if (task == "mc") return limit(1000) * 4 * kPromptTokens;
  if (task == "gsm8k") {
    const double n = limit(1319);
    return n * (TaskNumber(params, "n_shot", 5) + 1) * kPromptTokens +
           n * TaskNumber(params, "max_new_tokens", 256);
  }
  if (task == "msmarco") return limit(43) * 100 * kPromptTokens;
  if (task == "efficiency") {
    const double batches = std::max(1.0, SumList(params, "batch_sizes", 1));
    return batches * (SumList(params, "prompt_lengths", 512) + TaskNumber(params, "decode_tokens", 64));
  }
  return kFullCorpusTokens;
}

bool Calibrates(const std::string& method) {
  return method == "gptq" || method == "awq" || method == "gsq" || method == "smoothquant" ||
         method == "spqr";
}

}  // namespace

JobCost ModelJobCost(const v1::JobSpec& spec, int64_t model_bytes) {
  const double parameters = model_bytes > 0 ? static_cast<double>(model_bytes) / 4.0 : 1e6;
  const double forward_per_token = 2.0 * parameters;
  double seconds = kJobOverheadSeconds + TaskTokens(spec) * forward_per_token / kFlopsPerSecond;
  const std::string method = MethodName(spec);
  if (method != "none") {
    seconds += 3.0 * 4.0 * parameters / kBytesPerSecond;
    if (Calibrates(method)) {
      const double samples = spec.calibration().samples() > 0 ? spec.calibration().samples() : 128;
      const double seq_len = spec.calibration().seq_len() > 0 ? spec.calibration().seq_len() : 2048;
      seconds += 3.0 * samples * seq_len * forward_per_token / kFlopsPerSecond;
    }
  }
  JobCost cost;
  cost.seconds = seconds;
  cost.peak_bytes = kProcessBytes + static_cast<int64_t>(2.0 * 4.0 * parameters);
  cost.basis = JobCost::Basis::kFlopModel;
  return cost;
}

CostHistory::CostHistory(const std::vector<RecordedCost>& recorded) {
  for (const RecordedCost& cost : recorded) {
    for (Samples* samples :
         {&by_cell_[CellKey(cost.model, cost.method, cost.method_params, cost.task, cost.task_params)],
          &by_task_[TaskKey(cost.model, cost.method, cost.task)]}) {
      samples->seconds += cost.wall_seconds;
      samples->peak_bytes = std::max(samples->peak_bytes, cost.peak_bytes);
      samples->metrics = std::max(samples->metrics, cost.metrics);
      ++samples->count;
    }
  }
}

JobCost CostHistory::EstimateJob(const v1::JobSpec& spec, int64_t model_bytes) const {
  const JobCost modelled = ModelJobCost(spec, model_bytes);
  std::optional<JobCost> recorded = EstimateRecorded(
      spec.model().alias(), MethodName(spec), ParamsToJson(ToMap(spec.method().params())),
      spec.task().name(), ParamsToJson(ToMap(spec.task().params())));
  if (!recorded.has_value()) return modelled;
  if (recorded->peak_bytes <= 0) recorded->peak_bytes = modelled.peak_bytes;
  return *recorded;
}

std::optional<JobCost> CostHistory::EstimateRecorded(const std::string& model,
                                                     const std::string& method,
                                                     const std::string& method_params,
                                                     const std::string& task,
                                                     const std::string& task_params) const {
  for (const auto& [index, basis] :
       {std::make_pair(&by_cell_, JobCost::Basis::kSameCell),
        std::make_pair(&by_task_, JobCost::Basis::kSameTask)}) {
    auto it = index->find(basis == JobCost::Basis::kSameCell
                              ? CellKey(model, method, method_params, task, task_params)
                              : TaskKey(model, method, task));
    if (it == index->end() || it->second.count == 0) continue;
    JobCost cost;
    cost.seconds = it->second.seconds / static_cast<double>(it->second.count);
    cost.peak_bytes = it->second.peak_bytes;
    cost.metrics = it->second.metrics;
    cost.basis = basis;
    cost.recorded_jobs = it->second.count;
    return cost;
  }
  return std::nullopt;
}

double Makespan(std::vector<double> seconds, int workers) {
  return Makespan(std::move(seconds), std::vector<double>(std::max(1, workers), 0.0));
}

double Makespan(std::vector<double> seconds, const std::vector<double>& busy) {
  std::sort(seconds.begin(), seconds.end(), std::greater<double>());
  std::priority_queue<double, std::vector<double>, std::greater<double>> loads;
  double longest = 0;
  for (double load : busy) {
    loads.push(load);
    longest = std::max(longest, load);
  }
  if (loads.empty()) loads.push(0);
  for (double s : seconds) {
    const double load = loads.top() + s;
    loads.pop();
    loads.push(load);
    longest = std::max(longest, load);
  }
  return longest;
}

void SweepCostTally::Add(const v1::JobSpec& spec, const JobCost& cost, bool is_new) {
  const std::string method = MethodName(spec);
  const std::string key = absl::StrCat(spec.model().alias(), "\x1f", method);
  auto [it, added] = index_.emplace(key, groups_.size());
  if (added) {
    v1::CostEstimate& group = groups_.emplace_back();
    group.set_model(spec.model().alias());
    group.set_method(method);
    group.set_basis(DescribeBasis(cost));
  }
  v1::CostEstimate& group = groups_[it->second];
  group.set_jobs(group.jobs() + 1);
  seconds_[key] += cost.seconds;
  group.set_seconds_per_job(seconds_[key] / static_cast<double>(group.jobs()));
  group.set_peak_memory_bytes(std::max(group.peak_memory_bytes(), cost.peak_bytes));
  const std::string basis = DescribeBasis(cost);
  if (group.basis() != basis) {
    // Jobs of one model and method predicted on different grounds: say which kinds.
    const bool recorded = absl::StartsWith(group.basis(), "recorded") || absl::StartsWith(basis, "recorded");
    const bool modelled = group.basis() == "FLOP/byte model" || basis == "FLOP/byte model" ||
                          absl::StartsWith(group.basis(), "mixed");
    group.set_basis(recorded && modelled ? "mixed: recorded and FLOP/byte model"
                                         : "recorded (same cell or same task)");
  }
  if (!is_new) return;
  group.set_jobs_new(group.jobs_new() + 1);
  group.set_result_rows(group.result_rows() + 1);
  group.set_metric_rows(group.metric_rows() + cost.metrics);
  new_seconds_.push_back(cost.seconds);
}

void SweepCostTally::Fill(int workers, v1::SubmitSweepResponse* response) const {
  response->clear_estimates();
  for (const v1::CostEstimate& group : groups_) *response->add_estimates() = group;
  response->set_workers(std::max(1, workers));
  response->set_predicted_seconds(Makespan(new_seconds_, workers));
}

std::string DescribeBasis(const JobCost& cost) {
  switch (cost.basis) {
    case JobCost::Basis::kSameCell:
      return absl::StrCat("recorded: ", cost.recorded_jobs, " job(s) of this cell");
    case JobCost::Basis::kSameTask:
      return absl::StrCat("recorded: ", cost.recorded_jobs, " job(s) of this model, method and task");
    case JobCost::Basis::kFlopModel:
      break;
  }
  return "FLOP/byte model";
}

}  // namespace llmq
