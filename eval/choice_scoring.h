// Multiple-choice scoring by log-likelihood, as lm-eval-harness's `multiple_choice`
// output type: each choice is scored as the continuation `delimiter + choice` of the
// item's context; the prediction is the first choice with the highest log-likelihood
// (acc), or with the highest log-likelihood per byte of the choice text (acc_norm; lm-eval
// divides by the choice's length in characters, which is the same for ASCII text).
#ifndef LLMQ_EVAL_CHOICE_SCORING_H_
#define LLMQ_EVAL_CHOICE_SCORING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/loglikelihood.h"
#include "eval/task.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct ChoiceItem {
  std::string context;
  std::vector<std::string> choices;  // without the delimiter
  int64_t answer = 0;                // index into choices
};

struct ChoiceOutcome {
  std::vector<double> logprobs;  // per choice, nats
  std::vector<bool> is_greedy;   // per choice
  int64_t predicted = 0;         // argmax of logprobs
  int64_t predicted_norm = 0;    // argmax of logprobs / bytes(choice)
  int64_t truncated = 0;         // context tokens dropped, summed over choices
};

struct ChoiceAccuracy {
  double acc = 0;
  double acc_norm = 0;
  int64_t n = 0;
  int64_t truncated_items = 0;  // items with any context truncated to fit the model
};

// First index of the maximum (ties go to the earlier choice, as numpy's argmax).
int64_t ArgMax(const std::vector<double>& values);

// ArgMax of logprobs[i] / bytes(choices[i]) (an empty choice counts as 1 byte).
int64_t NormalizedArgMax(const std::vector<double>& logprobs, const std::vector<std::string>& choices);

// The outcome of every item, in order. All choices of all items go through one
// ComputeLoglikelihoods call, so batches mix items and results do not depend on the
// batch size.
std::vector<ChoiceOutcome> ScoreChoices(CausalLM& model, const Tokenizer& tokenizer,
                                        const std::vector<ChoiceItem>& items,
                                        const std::string& delimiter,
                                        const LoglikelihoodOptions& options,
                                        const std::function<void(int64_t, int64_t)>& progress = nullptr);

ChoiceAccuracy SummarizeChoices(const std::vector<ChoiceItem>& items,
                                const std::vector<ChoiceOutcome>& outcomes);

// Per item (ids[k] is item k's dataset index): "correct" (1/0, makes `accuracy`),
// "correct_norm" (makes `accuracy_norm`, only with `with_norm`) and "loglikelihood" (of
// the right answer, nats).
ExampleScores ChoiceExampleScores(const std::vector<ChoiceItem>& items,
                                  const std::vector<ChoiceOutcome>& outcomes,
                                  const std::vector<int64_t>& ids, bool with_norm);

}  // namespace llmq

#endif  // LLMQ_EVAL_CHOICE_SCORING_H_
