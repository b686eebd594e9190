// The `boolq` task: BoolQ dev questions scored as a two-way multiple choice.
#include "absl/strings/str_cat.h"
#include "common/corpus.h"
#include "common/hash.h"
#include "common/status.h"
#include "eval/boolq.h"
#include "eval/task_common.h"
#include "eval/task.h"

namespace llmq {

const char kBoolqTemplate[] = "{passage}\nQuestion: {question}?\nAnswer:";

std::string BoolqPrompt(const BoolqExample& example) {
  return absl::StrCat(example.passage, "\nQuestion: ", example.question, "?\nAnswer:");
}

std::vector<std::string> BoolqChoices() { return {"no", "yes"}; }

std::string DefaultBoolqPath() { return AssetPath("data/boolq/val.jsonl"); }

absl::StatusOr<BoolqExample> ParseBoolqLine(const JsonLine& line) {
  BoolqExample out;
  LLMQ_ASSIGN_OR_RETURN(out.passage, StringField(line, "passage"));
  LLMQ_ASSIGN_OR_RETURN(out.question, StringField(line, "question"));
  auto label = line.value.find("label");
  auto answer = line.value.find("answer");
  if (label != line.value.end()) {
    if (label->is_string() && (*label == "true" || *label == "false")) {
      out.answer = *label == "true";
    } else if (label->is_boolean()) {
      out.answer = label->get<bool>();
    } else if (label->is_number_integer() && (*label == 0 || *label == 1)) {
      out.answer = *label == 1;
    } else {
      return LineError(line, "'label' must be \"true\", \"false\", 0, 1 or a boolean");
    }
  } else if (answer != line.value.end() && answer->is_boolean()) {
    out.answer = answer->get<bool>();
    auto title = line.value.find("title");
    if (title != line.value.end() && title->is_string()) {
      out.passage = absl::StrCat(title->get<std::string>(), " -- ", out.passage);
    }
  } else {
    return LineError(line, "no 'label' field and no boolean 'answer' field");
  }
  return out;
}

absl::StatusOr<std::vector<BoolqExample>> LoadBoolq(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  std::vector<BoolqExample> out;
  for (const JsonLine& line : lines) {
    LLMQ_ASSIGN_OR_RETURN(BoolqExample example, ParseBoolqLine(line));
    example.index = static_cast<int64_t>(out.size());
    out.push_back(std::move(example));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no examples"));
  return out;
}

absl::StatusOr<TaskOutput> RunBoolqTask(const Params& params, TaskContext& context) {
  LLMQ_RETURN_IF_ERROR(CheckModelAndTokenizer(context, "boolq"));
  LLMQ_ASSIGN_OR_RETURN(CommonTaskParams common, ReadCommonTaskParams(params));
  LLMQ_ASSIGN_OR_RETURN(std::string path, GetString(params, "dataset"));
  if (path.empty()) path = DefaultBoolqPath();
  LLMQ_ASSIGN_OR_RETURN(std::vector<BoolqExample> examples, LoadBoolq(path));
  LLMQ_ASSIGN_OR_RETURN(const std::string dataset_sha256, Sha256File(path));

  std::vector<ChoiceItem> items;
  std::vector<int64_t> ids;
  for (size_t i : SubsampleIndices(examples.size(), common.subsample)) {
    items.push_back({BoolqPrompt(examples[i]), BoolqChoices(), examples[i].answer ? 1 : 0});
    ids.push_back(examples[i].index);
  }
  LoglikelihoodOptions options;
  options.batch_size = common.batch_size;
  options.add_special = common.bos;
  auto progress = [&](int64_t done, int64_t total) {
    if (context.progress) context.progress(done, total, "boolq requests");
  };
  LLMQ_ASSIGN_OR_RETURN(
      std::vector<ChoiceOutcome> outcomes,
      CatchExceptions("boolq scoring", [&]() -> absl::StatusOr<std::vector<ChoiceOutcome>> {
        return ScoreChoices(*context.model, *context.tokenizer, items, " ", options, progress);
      }));
  const ChoiceAccuracy accuracy = SummarizeChoices(items, outcomes);

  TaskOutput out;
  out.metrics = {
      {"accuracy", accuracy.acc, ""},
      {"n", static_cast<double>(accuracy.n), "examples"},
  };
  out.examples = ChoiceExampleScores(items, outcomes, ids, /*with_norm=*/false);
  AddCommonProvenance("boolq", common, examples.size(), out.provenance);
  out.provenance["boolq.dataset"] = path;
  out.provenance["boolq.dataset_sha256"] = dataset_sha256;
  out.provenance["boolq.n"] = absl::StrCat(accuracy.n);
  out.provenance["boolq.template"] = kBoolqTemplate;
  out.provenance["boolq.template_sha256"] = Sha256Hex(kBoolqTemplate);
  out.provenance["boolq.choices"] = "\" no\", \" yes\"";
  out.provenance["boolq.truncated_examples"] = absl::StrCat(accuracy.truncated_items);
  out.provenance["boolq.tokenization"] = "lm-eval: context+continuation encoded together";
  return out;
}

}  // namespace llmq
