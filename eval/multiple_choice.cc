// The `mc` task: a user's multiple-choice JSONL scored by log-likelihood.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "eval/multiple_choice.h"
#include "eval/task_common.h"

namespace llmq {

absl::StatusOr<std::vector<McItem>> ParseMcLines(const std::vector<JsonLine>& lines) {
  std::vector<McItem> out;
  std::set<std::string> seen;
  for (const JsonLine& line : lines) {
    McItem mc;
    LLMQ_ASSIGN_OR_RETURN(mc.item.context, StringField(line, "context"));
    LLMQ_ASSIGN_OR_RETURN(mc.item.choices, StringListField(line, "choices"));
    LLMQ_ASSIGN_OR_RETURN(mc.item.answer, IntField(line, "answer"));
    if (mc.item.choices.size() < 2) return LineError(line, "'choices' needs at least 2 entries");
    if (mc.item.answer < 0 || mc.item.answer >= static_cast<int64_t>(mc.item.choices.size())) {
      return LineError(line, absl::StrCat("'answer' ", mc.item.answer, " is not an index into ",
                                          mc.item.choices.size(), " choices"));
    }
    auto id = line.value.find("id");
    if (id == line.value.end()) {
      mc.id = absl::StrCat(out.size());
    } else if (id->is_string()) {
      mc.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      mc.id = absl::StrCat(id->get<int64_t>());
    } else {
      return LineError(line, "'id' must be a string or an integer");
    }
    if (!seen.insert(mc.id).second) return LineError(line, absl::StrCat("duplicate id '", mc.id, "'"));
    out.push_back(std::move(mc));
  }
  return out;
}

absl::StatusOr<std::vector<McItem>> LoadMcDataset(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  LLMQ_ASSIGN_OR_RETURN(std::vector<McItem> items, ParseMcLines(lines));
  if (items.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no items"));
  return items;
}

absl::StatusOr<TaskOutput> RunMultipleChoiceTask(const Params& params, TaskContext& context) {
  LLMQ_RETURN_IF_ERROR(CheckModelAndTokenizer(context, "mc"));
  LLMQ_ASSIGN_OR_RETURN(CommonTaskParams common, ReadCommonTaskParams(params));
  LLMQ_ASSIGN_OR_RETURN(const std::string path, GetString(params, "dataset"));
  if (path.empty()) return absl::InvalidArgumentError("task mc needs parameter 'dataset' (a JSONL path)");
  LLMQ_ASSIGN_OR_RETURN(const std::string delimiter, GetString(params, "target_delimiter"));
  LLMQ_ASSIGN_OR_RETURN(std::vector<McItem> all, LoadMcDataset(path));
  LLMQ_ASSIGN_OR_RETURN(std::string dataset_sha256, Sha256File(path));

  std::vector<ChoiceItem> items;
  std::vector<int64_t> ids;
  for (size_t i : SubsampleIndices(all.size(), common.subsample)) {
    items.push_back(all[i].item);
    ids.push_back(static_cast<int64_t>(i));
  }
  LoglikelihoodOptions options;
  options.batch_size = common.batch_size;
  options.add_special = common.bos;
  auto progress = [&](int64_t done, int64_t total) {
    if (context.progress) context.progress(done, total, "mc requests");
  };
  LLMQ_ASSIGN_OR_RETURN(
      std::vector<ChoiceOutcome> outcomes,
      CatchExceptions("mc scoring", [&]() -> absl::StatusOr<std::vector<ChoiceOutcome>> {
        return ScoreChoices(*context.model, *context.tokenizer, items, delimiter, options, progress);
      }));
  const ChoiceAccuracy accuracy = SummarizeChoices(items, outcomes);

  TaskOutput out;
  out.metrics = {
      {"accuracy", accuracy.acc, ""},
      {"accuracy_norm", accuracy.acc_norm, ""},
      {"n", static_cast<double>(accuracy.n), "examples"},
  };
  out.examples = ChoiceExampleScores(items, outcomes, ids, /*with_norm=*/true);
  AddCommonProvenance("mc", common, all.size(), out.provenance);
  out.provenance["mc.dataset"] = path;
  out.provenance["mc.dataset_sha256"] = dataset_sha256;
  out.provenance["mc.target_delimiter"] = delimiter;
  out.provenance["mc.norm"] = "log-likelihood / UTF-8 bytes of the choice (without delimiter)";
  out.provenance["mc.truncated_examples"] = absl::StrCat(accuracy.truncated_items);
  out.provenance["mc.n"] = absl::StrCat(accuracy.n);
  return out;
}

}  // namespace llmq
