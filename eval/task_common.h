// What the accuracy tasks share: which examples of a dataset they evaluate, batch size,
// BOS. Every choice is read from the task's parameters and written back
// into its provenance, so a result says exactly what it was computed on.
//
// Parameters (defaults: grid/schema.cc):
//   limit      examples (queries for msmarco) to evaluate; 0 = all
//   subsample  "shuffle": a seeded permutation of all indices, then its first `limit`;
//              "first": the first `limit` in file order (lm-eval's --limit)
//   seed       seed of the permutation
//   batch_size requests per forward pass; results do not depend on it
//   bos        encode with the tokenizer's special tokens (BOS for Llama-style tokenizers,
//              nothing for GPT-2/Qwen-style ones), as lm-eval-harness 0.4 does.
#ifndef LLMQ_EVAL_TASK_COMMON_H_
#define LLMQ_EVAL_TASK_COMMON_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/params.h"
#include "eval/task.h"

namespace llmq {

struct SubsampleSpec {
  int64_t limit = 0;  // 0 = all
  bool shuffle = true;
  uint64_t seed = 1234;
};

// A permutation of [0, n): Fisher-Yates from the last index down, j = rng() % (i + 1)
// with std::mt19937_64(seed). Written out rather than std::shuffle, whose algorithm the
// standard leaves to the library, so the same seed picks the same examples everywhere.
std::vector<size_t> SeededPermutation(size_t n, uint64_t seed);

// The chosen indices in ascending order (all of [0, n) when limit is 0 or >= n).
std::vector<size_t> SubsampleIndices(size_t n, const SubsampleSpec& spec);

// A 64-bit FNV-1a hash, for deriving per-item seeds from stable ids.
uint64_t Fnv1a64(absl::string_view text);

struct CommonTaskParams {
  SubsampleSpec subsample;
  int batch_size = 0;
  bool bos = false;
};

// Reads limit, subsample, seed, batch_size and bos. Bad values are InvalidArgument.
absl::StatusOr<CommonTaskParams> ReadCommonTaskParams(const Params& params);

// Writes `<task>.limit`, `.subsample`, `.seed`, `.bos`, `.batch_size`, `.dataset_size`.
void AddCommonProvenance(const std::string& task, const CommonTaskParams& common,
                         size_t dataset_size, std::map<std::string, std::string>& provenance);

// FailedPrecondition unless the context has a model and a tokenizer.
absl::Status CheckModelAndTokenizer(const TaskContext& context, absl::string_view task);

}  // namespace llmq

#endif  // LLMQ_EVAL_TASK_COMMON_H_
