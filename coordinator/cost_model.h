// What a sweep will cost before it runs (`submit --dry_run`), and what it was predicted to
// cost after (`status`). Pure logic: the recorded costs come from the store, the answer goes
// to the CLI.
//
// A job's wall time and peak memory are predicted, in this order of preference, from
//   1. recorded jobs of the same cell (model, method and parameters, task and parameters):
//      their mean wall time and largest peak;
//   2. recorded jobs of the same model, method and task (other parameters): the same;
//   3. a FLOP and byte model (below), when nothing alike has run.
// The sweep's wall time is the longest worker's share when the new jobs go, longest first,
// each to the least loaded of the registered workers (LPT list scheduling).
//
// The FLOP and byte model, for one CPU worker (its constants are stated in the output):
//   parameters P = the model files' bytes / 4 (fp32 on disk; a bf16 checkpoint halves it)
//   a forward pass costs 2·P FLOPs per token at kFlopsPerSecond;
//   tokens per task: ppl limit × context (limit 0: kFullCorpusTokens); boolq limit × 2 choices
//   × kPromptTokens (limit 0: 3,270 questions); mc limit × 4 × kPromptTokens (0: 1,000);
//   gsm8k limit × (n_shot + 1) × kPromptTokens + limit × max_new_tokens (0: 1,319);
//   msmarco limit × 100 passages × kPromptTokens (0: 43 queries); efficiency: its prompt
//   lengths plus decode tokens, per batch size;
//   quantization: RTN and the like move 3 × 4P bytes at kBytesPerSecond; calibrating
//   methods (gptq, awq, smoothquant, spqr) add 3 forward passes over samples × seq_len;
//   every job adds kJobOverheadSeconds (process start, loading, tokenizing);
//   peak memory = kProcessBytes + 2 × 4P (the model and its quantized copy).
#ifndef LLMQ_COORDINATOR_COST_MODEL_H_
#define LLMQ_COORDINATOR_COST_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/llmq.pb.h"
#include "storage/records.h"

namespace llmq {

inline constexpr double kFlopsPerSecond = 20e9;
inline constexpr double kBytesPerSecond = 2e9;
inline constexpr double kJobOverheadSeconds = 2.0;
inline constexpr double kPromptTokens = 200;
inline constexpr double kFullCorpusTokens = 300000;
inline constexpr int64_t kProcessBytes = 200LL << 20;

struct JobCost {
  double seconds = 0;
  int64_t peak_bytes = 0;
  int64_t metrics = 0;  // metric rows it adds (recorded; 0 when unknown)
  enum class Basis { kSameCell, kSameTask, kFlopModel } basis = Basis::kFlopModel;
  int64_t recorded_jobs = 0;  // how many recorded jobs the prediction averages
};

// Recorded costs, indexed for EstimateJob.
class CostHistory {
 public:
  explicit CostHistory(const std::vector<RecordedCost>& recorded);

  // `model_bytes`: the bytes of the spec's model files (0: unknown, the FLOP model then
  // assumes 1M parameters).
  JobCost EstimateJob(const v1::JobSpec& spec, int64_t model_bytes) const;

  // Preferences 1 and 2 alone, for a cell as the store keeps it (parameters as JSON):
  // nullopt when no job of the same cell, nor of the same model, method and task, has
  // been recorded.
  std::optional<JobCost> EstimateRecorded(const std::string& model, const std::string& method,
                                          const std::string& method_params,
                                          const std::string& task,
                                          const std::string& task_params) const;

 private:
  struct Samples {
    double seconds = 0;
    int64_t peak_bytes = 0;
    int64_t metrics = 0;
    int64_t count = 0;
  };
  std::map<std::string, Samples> by_cell_, by_task_;
};

// The FLOP and byte model alone (see above).
JobCost ModelJobCost(const v1::JobSpec& spec, int64_t model_bytes);

// The longest worker's total when `seconds` go, longest first, each to the least loaded of
// `workers` (at least 1).
double Makespan(std::vector<double> seconds, int workers);
// The same with each worker already busy for `busy[w]` seconds (one entry per worker, at
// least one): the longest worker's total once every job of `seconds` is placed.
double Makespan(std::vector<double> seconds, const std::vector<double>& busy);

// A sweep's predictions summed per model and method, in order of first appearance.
class SweepCostTally {
 public:
  void Add(const v1::JobSpec& spec, const JobCost& cost, bool is_new);
  // Sets the response's estimates, predicted_seconds (the new jobs' makespan) and workers.
  void Fill(int workers, v1::SubmitSweepResponse* response) const;

 private:
  std::vector<v1::CostEstimate> groups_;
  std::map<std::string, size_t> index_;
  std::map<std::string, double> seconds_;  // per group, summed over all its jobs
  std::vector<double> new_seconds_;
};

// "recorded: 3 jobs of this cell", "recorded: 2 jobs of this model, method and task",
// "FLOP/byte model".
std::string DescribeBasis(const JobCost& cost);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_COST_MODEL_H_
