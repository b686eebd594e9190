// GSM8K (Cobbe et al., 2021): grade-school math word problems, answered by greedy
// generation and scored by exact match of the final number.
//
// Two prompt formats, as lm-eval-harness's tasks:
//   gsm8k      n-shot (default 5) exemplars from train, "Question: {q}\nAnswer: {a}" with the
//              full worked answer ending in "#### N", joined by "\n\n"; generation stops at
//              "Question:", "</s>", "<|im_end|>" or "\n\n". Unlike lm-eval, which draws new
//              exemplars for every test question, one set is drawn for the whole run (the
//              first n of a seeded permutation of train), so the prompt-template hash names
//              the exact prompt.
//   cot: true  the 8 fixed chain-of-thought exemplars of Wei et al. (2022),
//              "Q: {q}\nA: ... The answer is N.", joined by "\n\n"; n_shot <= 8 takes the
//              first n; generation stops at "Q:", "</s>", "<|im_end|>" or "\n\n".
// The blank-line stop follows the seed protocol (and older lm-eval); lm-eval 0.4.13 no
// longer stops there: stop_at_blank_line: false matches it.
//
// Scoring: "strict" takes the first number after "#### " (cot: after "The answer is ");
// "flexible" the last number anywhere in the completion. A number is [-][$]digits with
// comma groups and an optional decimal part, not glued to a letter on either side
// ("mp3", "B12" and "3rd" are words, not numbers). Answers are normalised (commas and
// "$" dropped, a trailing "." ignored) and compared as numbers: "3.50" matches "3.5".
//
// Task parameters (besides limit, subsample, seed, batch_size, bos; see task_common.h):
//   n_shot (5; cot 8), cot (false), fewshot_seed (default: seed), max_new_tokens (256,
//   lm-eval's max_gen_toks; prompts keep their last max_length - max_new_tokens tokens),
//   stop_at_blank_line (true), dataset (test JSONL, default bundled), train (exemplar
//   JSONL, default bundled).
#ifndef LLMQ_EVAL_GSM8K_H_
#define LLMQ_EVAL_GSM8K_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct Gsm8kProblem {
  std::string question;
  std::string answer;  // worked solution, last line "#### N" (a CoT exemplar: "... The answer is N.")
};

// Every line needs string fields "question" and "answer"; errors name file:line.
absl::StatusOr<std::vector<Gsm8kProblem>> LoadGsm8k(const std::string& path);

// The 8 chain-of-thought exemplars of Wei et al. (2022), in their published order.
const std::vector<Gsm8kProblem>& ChainOfThoughtExemplars();

// Builds prompts from a fixed set of exemplars.
class Gsm8kPromptBuilder {
 public:
  Gsm8kPromptBuilder(std::vector<Gsm8kProblem> exemplars, bool cot, bool stop_at_blank_line = true);
  std::string Render(absl::string_view question) const;
  // The prompt with "{question}" in place of the question: what the template hash covers.
  std::string TemplateText() const;
  const std::vector<std::string>& stop_strings() const { return stop_strings_; }

 private:
  std::string Block(absl::string_view question) const;  // "Question: q\nAnswer:"
  std::string prefix_;  // the exemplars, each followed by "\n\n"
  bool cot_;
  std::vector<std::string> stop_strings_;
};

// The gold answer: the text after the last "#### ", stripped.
std::string Gsm8kGoldAnswer(absl::string_view answer);

// The first number right after "#### " (cot: "The answer is "), as written.
std::optional<std::string> ExtractStrictAnswer(absl::string_view completion, bool cot);
// The last number in the completion, as written.
std::optional<std::string> ExtractLastNumber(absl::string_view completion);
// The value of an answer after normalisation; nullopt if it is not a number.
std::optional<double> ParseAnswerNumber(absl::string_view answer);
// Whether `predicted` (nullopt = nothing extracted) equals `gold` as numbers.
bool AnswersMatch(const std::optional<std::string>& predicted, absl::string_view gold);

}  // namespace llmq

#endif  // LLMQ_EVAL_GSM8K_H_
