#include "eval/task_common.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace llmq {

std::vector<size_t> SeededPermutation(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

std::vector<size_t> SubsampleIndices(size_t n, const SubsampleSpec& spec) {
  const size_t keep = spec.limit <= 0 ? n : std::min(n, static_cast<size_t>(spec.limit));
  std::vector<size_t> chosen;
  if (spec.shuffle && keep < n) {
    chosen = SeededPermutation(n, spec.seed);
    chosen.resize(keep);
    std::sort(chosen.begin(), chosen.end());
  } else {
    chosen.resize(keep);
    std::iota(chosen.begin(), chosen.end(), 0);
  }
  return chosen;
}

uint64_t Fnv1a64(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

absl::StatusOr<CommonTaskParams> ReadCommonTaskParams(const Params& params) {
  CommonTaskParams out;
  LLMQ_ASSIGN_OR_RETURN(out.subsample.limit, GetInt(params, "limit"));
  if (out.subsample.limit < 0) return absl::InvalidArgumentError("parameter 'limit' must be >= 0");
  LLMQ_ASSIGN_OR_RETURN(int64_t seed, GetInt(params, "seed"));
  out.subsample.seed = static_cast<uint64_t>(seed);
  LLMQ_ASSIGN_OR_RETURN(const std::string mode, GetString(params, "subsample"));
  if (mode != "shuffle" && mode != "first") {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter 'subsample' = '", mode, "': expected shuffle or first"));
  }
  out.subsample.shuffle = mode == "shuffle";
  LLMQ_ASSIGN_OR_RETURN(int64_t batch, GetInt(params, "batch_size"));
  if (batch < 1) return absl::InvalidArgumentError("parameter 'batch_size' must be >= 1");
  out.batch_size = static_cast<int>(batch);
  LLMQ_ASSIGN_OR_RETURN(out.bos, GetBool(params, "bos"));
  return out;
}

void AddCommonProvenance(const std::string& task, const CommonTaskParams& common,
                         size_t dataset_size, std::map<std::string, std::string>& provenance) {
  provenance[absl::StrCat(task, ".limit")] = absl::StrCat(common.subsample.limit);
  provenance[absl::StrCat(task, ".subsample")] = common.subsample.shuffle ? "shuffle" : "first";
  provenance[absl::StrCat(task, ".seed")] = absl::StrCat(common.subsample.seed);
  provenance[absl::StrCat(task, ".bos")] = common.bos ? "true" : "false";
  provenance[absl::StrCat(task, ".batch_size")] = absl::StrCat(common.batch_size);
  provenance[absl::StrCat(task, ".dataset_size")] = absl::StrCat(dataset_size);
}

absl::Status CheckModelAndTokenizer(const TaskContext& context, absl::string_view task) {
  if (context.model == nullptr || context.tokenizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("task ", task, " needs a model and a tokenizer"));
  }
  return absl::OkStatus();
}

}  // namespace llmq
