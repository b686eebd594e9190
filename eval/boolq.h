// BoolQ (Clark et al., 2019) as lm-eval-harness's `boolq` task (super_glue, v2): zero-shot,
// prompt "{passage}\nQuestion: {question}?\nAnswer:", choices " no" / " yes", the higher
// log-likelihood wins; metric accuracy.
//
// Task parameters (besides limit, subsample, seed, batch_size, bos; see subsample.h):
//   dataset   JSONL path (default: the bundled assets/data/boolq/val.jsonl, SuperGLUE dev)
#ifndef LLMQ_EVAL_BOOLQ_H_
#define LLMQ_EVAL_BOOLQ_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/choice_scoring.h"
#include "eval/jsonl.h"

namespace llmq {

struct BoolqExample {
  int64_t index = 0;  // 0-based position in the file
  std::string passage;
  std::string question;
  bool answer = false;
};

// Accepts the SuperGLUE layout {"passage", "question", "label": "true"|"false"|0|1|bool}
// and Google's original {"title", "passage", "question", "answer": bool}, whose passage
// gets SuperGLUE's "<title> -- " prefix. Errors name file:line.
absl::StatusOr<BoolqExample> ParseBoolqLine(const JsonLine& line);
absl::StatusOr<std::vector<BoolqExample>> LoadBoolq(const std::string& path);

// The template text (what the prompt-template hash covers) and its rendering.
extern const char kBoolqTemplate[];
std::string BoolqPrompt(const BoolqExample& example);
// Choices without the " " delimiter; index 1 is "yes".
std::vector<std::string> BoolqChoices();

std::string DefaultBoolqPath();

}  // namespace llmq

#endif  // LLMQ_EVAL_BOOLQ_H_
