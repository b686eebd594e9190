#include "eval/choice_scoring.h"

#include <algorithm>

namespace llmq {

int64_t ArgMax(const std::vector<double>& values) {
  int64_t best = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] > values[static_cast<size_t>(best)]) best = static_cast<int64_t>(i);
  }
  return best;
}

int64_t NormalizedArgMax(const std::vector<double>& logprobs, const std::vector<std::string>& choices) {
  std::vector<double> normalized;
  for (size_t i = 0; i < logprobs.size(); ++i) {
    normalized.push_back(logprobs[i] / static_cast<double>(std::max<size_t>(1, choices[i].size())));
  }
  return ArgMax(normalized);
}

std::vector<ChoiceOutcome> ScoreChoices(CausalLM& model, const Tokenizer& tokenizer,
                                        const std::vector<ChoiceItem>& items,
                                        const std::string& delimiter,
                                        const LoglikelihoodOptions& options,
                                        const std::function<void(int64_t, int64_t)>& progress) {
  std::vector<LoglikelihoodRequest> requests;
  for (const ChoiceItem& item : items) {
    for (const std::string& choice : item.choices) requests.push_back({item.context, delimiter + choice});
  }
  const std::vector<LoglikelihoodResult> results =
      ComputeLoglikelihoods(model, tokenizer, requests, options, progress);
  std::vector<ChoiceOutcome> outcomes(items.size());
  size_t next = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ChoiceOutcome& out = outcomes[i];
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      const LoglikelihoodResult& r = results[next++];
      out.logprobs.push_back(r.logprob);
      out.is_greedy.push_back(r.is_greedy);
      out.truncated += r.truncated;
    }
    out.predicted = ArgMax(out.logprobs);
    out.predicted_norm = NormalizedArgMax(out.logprobs, items[i].choices);
  }
  return outcomes;
}

ChoiceAccuracy SummarizeChoices(const std::vector<ChoiceItem>& items,
                                const std::vector<ChoiceOutcome>& outcomes) {
  ChoiceAccuracy out;
  out.n = static_cast<int64_t>(items.size());
  if (items.empty()) return out;
  int64_t correct = 0, correct_norm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    correct += outcomes[i].predicted == items[i].answer;
    correct_norm += outcomes[i].predicted_norm == items[i].answer;
    out.truncated_items += outcomes[i].truncated > 0;
  }
  out.acc = static_cast<double>(correct) / static_cast<double>(out.n);
  out.acc_norm = static_cast<double>(correct_norm) / static_cast<double>(out.n);
  return out;
}

ExampleScores ChoiceExampleScores(const std::vector<ChoiceItem>& items,
                                  const std::vector<ChoiceOutcome>& outcomes,
                                  const std::vector<int64_t>& ids, bool with_norm) {
  ExampleScores out;
  out.ids = ids;
  ExampleSeries correct{"correct", "accuracy"}, norm{"correct_norm", "accuracy_norm"};
  ExampleSeries loglikelihood{"loglikelihood", ""};
  for (size_t k = 0; k < items.size() && k < outcomes.size(); ++k) {
    const int64_t answer = items[k].answer;
    correct.values.push_back(outcomes[k].predicted == answer ? 1.0 : 0.0);
    norm.values.push_back(outcomes[k].predicted_norm == answer ? 1.0 : 0.0);
    loglikelihood.values.push_back(outcomes[k].logprobs.at(static_cast<size_t>(answer)));
  }
  out.series.push_back(std::move(correct));
  if (with_norm) out.series.push_back(std::move(norm));
  out.series.push_back(std::move(loglikelihood));
  return out;
}

}  // namespace llmq
