// The `mc` task: any multiple-choice dataset in JSON Lines, scored as lm-eval-harness's
// multiple_choice tasks, so users add datasets without code. One item per line:
//   {"context": str, "choices": [str, ...], "answer": int (0-based), "id": str|int (optional)}
// Each choice is scored as the continuation target_delimiter + choice of the context.
// Metrics: accuracy (highest log-likelihood) and accuracy_norm (highest log-likelihood per
// UTF-8 byte of the choice text; see choice_scoring.h).
//
// Task parameters (besides limit, subsample, seed, batch_size, bos; see task_common.h):
//   dataset           JSONL path (required; examples/data/tiny_mc.jsonl is an example)
//   target_delimiter  default " "
#ifndef LLMQ_EVAL_MULTIPLE_CHOICE_H_
#define LLMQ_EVAL_MULTIPLE_CHOICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/choice_scoring.h"
#include "eval/jsonl.h"

namespace llmq {

struct McItem {
  std::string id;  // the "id" field, or the 0-based line index among items
  ChoiceItem item;
};

// Errors name file:line: missing fields, no choices, answer out of range, duplicate ids.
absl::StatusOr<std::vector<McItem>> ParseMcLines(const std::vector<JsonLine>& lines);
absl::StatusOr<std::vector<McItem>> LoadMcDataset(const std::string& path);

}  // namespace llmq

#endif  // LLMQ_EVAL_MULTIPLE_CHOICE_H_
