// llmq_eval_dump: per-example log-likelihoods of a multiple-choice task as JSON lines, for
// comparing llmq's scoring with lm-eval-harness's --log_samples
// (tests/scripts/compare_lm_eval.py). Not part of the job pipeline.
//
//   llmq_eval_dump --model=assets/models/stories260K-hf --task=boolq --limit=50 --subsample=first
//
// With --mode=task it runs any registered task instead (RunTask, parameters from --params
// only) and prints {"metrics": [...], "provenance": {...}}:
//
//   llmq_eval_dump --model=assets/models/stories260K-hf --mode=task --task=gsm8k \
//       --params=limit=20,n_shot=1,max_new_tokens=64
//
// In the default --mode=examples it prints one line per example:
//   {"doc": <index in the file>, "answer": a, "predicted": p, "predicted_norm": q,
//    "logprobs": [...], "is_greedy": [...], "context_ids": [...], "continuation_ids": [[...], ...],
//    "truncated": t}
// then {"summary": {"accuracy": ..., "accuracy_norm": ..., "n": ..., "bos": ...}}.
//
// BOS: --bos (default true) encodes with the tokenizer's special tokens, as Hugging Face's
// encode(add_special_tokens=True), so each tokenizer applies its own rule: llama2.c and
// SentencePiece prepend BOS; a Hugging Face tokenizer adds what tokenizer.json's
// post-processor says, or without one what tokenizer_config.json's add_bos_token /
// add_eos_token say (BOS for Llama-style tokenizers, nothing for GPT-2 / Qwen / Phi). That
// is lm-eval-harness's default (add_bos_token unset, 0.4.13); --bos=false matches its
// add_bos_token=False (older releases' default). On the stories260K-hf fixture (add_bos_token
// true) the two differ by up to 1 nat per log-likelihood.
#include <iostream>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "eval/boolq.h"
#include "eval/choice_scoring.h"
#include "eval/multiple_choice.h"
#include "eval/task.h"
#include "eval/task_common.h"
#include "model/loader.h"

ABSL_FLAG(std::string, model, "", "model directory or llama2.c .bin");
ABSL_FLAG(std::string, task, "boolq", "examples mode: boolq or mc; task mode: any task name");
ABSL_FLAG(std::string, mode, "examples", "examples (per-example log-likelihoods) or task (RunTask)");
ABSL_FLAG(std::string, params, "", "task mode: the task's parameters, k=v,k=v");
ABSL_FLAG(std::string, dataset, "", "dataset JSONL (boolq: default bundled dev set; mc: required)");
ABSL_FLAG(int64_t, limit, 0, "examples to score; 0 = all");
ABSL_FLAG(std::string, subsample, "first", "first (lm-eval's --limit) or shuffle");
ABSL_FLAG(int64_t, seed, 1234, "seed of the shuffle");
ABSL_FLAG(int32_t, batch_size, 8, "requests per forward pass");
ABSL_FLAG(bool, bos, true,
          "encode with the tokenizer's special tokens (BOS where its own rule adds one), as "
          "lm-eval's default; --bos=false as lm-eval's add_bos_token=False");
ABSL_FLAG(std::string, dtype, "float32", "compute dtype");

namespace llmq {
namespace {

absl::Status RunWholeTask(LoadedModel& loaded) {
  Params params;
  for (absl::string_view pair : absl::StrSplit(absl::GetFlag(FLAGS_params), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    params[kv.first] = kv.second;
  }
  TaskContext context;
  context.model = loaded.model.get();
  context.tokenizer = loaded.tokenizer.get();
  context.model_path = absl::GetFlag(FLAGS_model);
  LLMQ_ASSIGN_OR_RETURN(TaskOutput output, RunTask(absl::GetFlag(FLAGS_task), params, context));
  nlohmann::json out;
  out["metrics"] = nlohmann::json::array();
  for (const MetricValue& m : output.metrics) {
    out["metrics"].push_back({{"name", m.name}, {"value", m.value}, {"unit", m.unit}});
  }
  out["provenance"] = output.provenance;
  std::cout << out.dump(1) << std::endl;
  return absl::OkStatus();
}

absl::Status Run() {
  LoadOptions load;
  LLMQ_ASSIGN_OR_RETURN(load.dtype, ParseDtype(absl::GetFlag(FLAGS_dtype)));
  LLMQ_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(absl::GetFlag(FLAGS_model), load));
  if (absl::GetFlag(FLAGS_mode) == "task") return RunWholeTask(loaded);
  if (absl::GetFlag(FLAGS_mode) != "examples") {
    return absl::InvalidArgumentError(absl::StrCat("--mode=", absl::GetFlag(FLAGS_mode), ": expected examples or task"));
  }
  Params params = {{"limit", absl::StrCat(absl::GetFlag(FLAGS_limit))},
                   {"subsample", absl::GetFlag(FLAGS_subsample)},
                   {"seed", absl::StrCat(absl::GetFlag(FLAGS_seed))},
                   {"batch_size", absl::StrCat(absl::GetFlag(FLAGS_batch_size))},
                   {"bos", absl::GetFlag(FLAGS_bos) ? "true" : "false"}};
  LLMQ_ASSIGN_OR_RETURN(CommonTaskParams common, ReadCommonTaskParams(params));

  std::vector<ChoiceItem> all;
  const std::string task = absl::GetFlag(FLAGS_task);
  std::string dataset = absl::GetFlag(FLAGS_dataset);
  if (task == "boolq") {
    if (dataset.empty()) dataset = DefaultBoolqPath();
    LLMQ_ASSIGN_OR_RETURN(std::vector<BoolqExample> examples, LoadBoolq(dataset));
    for (const BoolqExample& e : examples) all.push_back({BoolqPrompt(e), BoolqChoices(), e.answer ? 1 : 0});
  } else if (task == "mc") {
    LLMQ_ASSIGN_OR_RETURN(std::vector<McItem> items, LoadMcDataset(dataset));
    for (McItem& item : items) all.push_back(std::move(item.item));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--task=", task, ": expected boolq or mc"));
  }
  const std::vector<size_t> chosen = SubsampleIndices(all.size(), common.subsample);
  std::vector<ChoiceItem> items;
  for (size_t i : chosen) items.push_back(all[i]);

  LoglikelihoodOptions options;
  options.batch_size = common.batch_size;
  options.add_special = common.bos;
  LLMQ_ASSIGN_OR_RETURN(
      std::vector<ChoiceOutcome> outcomes,
      CatchExceptions("scoring", [&]() -> absl::StatusOr<std::vector<ChoiceOutcome>> {
        return ScoreChoices(*loaded.model, *loaded.tokenizer, items, " ", options);
      }));
  for (size_t k = 0; k < items.size(); ++k) {
    nlohmann::json line;
    line["doc"] = chosen[k];
    line["answer"] = items[k].answer;
    line["predicted"] = outcomes[k].predicted;
    line["predicted_norm"] = outcomes[k].predicted_norm;
    line["logprobs"] = outcomes[k].logprobs;
    line["is_greedy"] = outcomes[k].is_greedy;
    line["truncated"] = outcomes[k].truncated;
    nlohmann::json continuations = nlohmann::json::array();
    for (const std::string& choice : items[k].choices) {
      auto [context_ids, continuation_ids] =
          EncodePair(*loaded.tokenizer, {items[k].context, " " + choice}, common.bos);
      line["context_ids"] = context_ids;
      continuations.push_back(continuation_ids);
    }
    line["continuation_ids"] = continuations;
    std::cout << line.dump() << "\n";
  }
  const ChoiceAccuracy accuracy = SummarizeChoices(items, outcomes);
  nlohmann::json summary;
  summary["summary"] = {{"accuracy", accuracy.acc},
                        {"accuracy_norm", accuracy.acc_norm},
                        {"n", accuracy.n},
                        {"truncated_items", accuracy.truncated_items},
                        {"bos", common.bos},
                        {"tokenizer", loaded.tokenizer->Describe()}};
  std::cout << summary.dump() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Per-example log-likelihoods of a multiple-choice task as JSON lines.\n"
      "Example: llmq_eval_dump --model=assets/models/stories260K-hf --task=boolq --limit=50");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = llmq::Run();
  if (!status.ok()) {
    std::cerr << "llmq_eval_dump: " << status << std::endl;
    return 1;
  }
  return 0;
}
