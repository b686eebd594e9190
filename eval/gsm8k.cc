// The `gsm8k` task: few-shot prompts, greedy generation, exact match of the final number.
#include "eval/gsm8k.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/corpus.h"
#include "common/hash.h"
#include "common/status.h"
#include "eval/jsonl.h"
#include "eval/task_common.h"
#include "model/generate.h"

namespace llmq {

absl::StatusOr<std::vector<Gsm8kProblem>> LoadGsm8k(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  std::vector<Gsm8kProblem> out;
  for (const JsonLine& line : lines) {
    Gsm8kProblem problem;
    LLMQ_ASSIGN_OR_RETURN(problem.question, StringField(line, "question"));
    LLMQ_ASSIGN_OR_RETURN(problem.answer, StringField(line, "answer"));
    out.push_back(std::move(problem));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no problems"));
  return out;
}

const std::vector<Gsm8kProblem>& ChainOfThoughtExemplars() {
  static const auto* exemplars = new std::vector<Gsm8kProblem>{
      {"There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?",
       "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6."},
      {"If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
       "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."},
      {"Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
       "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The answer is 39."},
      {"Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason give to Denny?",
       "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The answer is 8."},
      {"Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
       "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The answer is 9."},
      {"There were nine computers in the server room. Five more computers were installed each day, from monday to thursday. How many computers are now in the server room?",
       "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 is 29. The answer is 29."},
      {"Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls did he have at the end of wednesday?",
       "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33."},
      {"Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
       "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8."},
  };
  return *exemplars;
}

Gsm8kPromptBuilder::Gsm8kPromptBuilder(std::vector<Gsm8kProblem> exemplars, bool cot,
                                       bool stop_at_blank_line)
    : cot_(cot) {
  for (const Gsm8kProblem& e : exemplars) absl::StrAppend(&prefix_, Block(e.question), " ", e.answer, "\n\n");
  stop_strings_ = {cot ? "Q:" : "Question:", "</s>", "<|im_end|>"};
  if (stop_at_blank_line) stop_strings_.push_back("\n\n");
}

std::string Gsm8kPromptBuilder::Block(absl::string_view question) const {
  return cot_ ? absl::StrCat("Q: ", question, "\nA:") : absl::StrCat("Question: ", question, "\nAnswer:");
}

std::string Gsm8kPromptBuilder::Render(absl::string_view question) const {
  return absl::StrCat(prefix_, Block(question));
}

std::string Gsm8kPromptBuilder::TemplateText() const { return Render("{question}"); }

absl::StatusOr<TaskOutput> RunGsm8kTask(const Params& params, TaskContext& context) {
  LLMQ_RETURN_IF_ERROR(CheckModelAndTokenizer(context, "gsm8k"));
  LLMQ_ASSIGN_OR_RETURN(CommonTaskParams common, ReadCommonTaskParams(params));
  LLMQ_ASSIGN_OR_RETURN(const bool cot, GetBool(params, "cot"));
  LLMQ_ASSIGN_OR_RETURN(const int64_t n_shot, GetInt(params, "n_shot"));
  LLMQ_ASSIGN_OR_RETURN(const int64_t fewshot_seed, GetInt(params, "fewshot_seed"));
  LLMQ_ASSIGN_OR_RETURN(const int64_t max_new_tokens, GetInt(params, "max_new_tokens"));
  LLMQ_ASSIGN_OR_RETURN(const bool stop_at_blank_line, GetBool(params, "stop_at_blank_line"));
  LLMQ_ASSIGN_OR_RETURN(std::string test_path, GetString(params, "dataset"));
  if (test_path.empty()) test_path = AssetPath("data/gsm8k/test.jsonl");
  LLMQ_ASSIGN_OR_RETURN(std::string train_path, GetString(params, "train"));
  if (train_path.empty()) train_path = AssetPath("data/gsm8k/train.jsonl");
  if (n_shot < 0 || (cot && n_shot > 8)) {
    return absl::InvalidArgumentError(absl::StrCat("parameter 'n_shot' = ", n_shot, ": expected 0..",
                                                   cot ? "8 with cot" : "the train size"));
  }
  const int64_t max_length = context.model->config().max_position_embeddings;
  if (max_new_tokens < 1 || max_new_tokens >= max_length) {
    return absl::InvalidArgumentError(absl::StrCat("parameter 'max_new_tokens' = ", max_new_tokens,
                                                   ": expected 1..", max_length - 1));
  }

  LLMQ_ASSIGN_OR_RETURN(std::vector<Gsm8kProblem> test, LoadGsm8k(test_path));
  LLMQ_ASSIGN_OR_RETURN(const std::string test_sha256, Sha256File(test_path));
  std::vector<Gsm8kProblem> exemplars;
  std::string exemplar_ids;
  if (cot) {
    const auto& fixed = ChainOfThoughtExemplars();
    exemplars.assign(fixed.begin(), fixed.begin() + n_shot);
    exemplar_ids = absl::StrCat("wei2022[0:", n_shot, "]");
  } else if (n_shot > 0) {
    LLMQ_ASSIGN_OR_RETURN(std::vector<Gsm8kProblem> train, LoadGsm8k(train_path));
    if (static_cast<size_t>(n_shot) > train.size()) {
      return absl::InvalidArgumentError(absl::StrCat("n_shot ", n_shot, " > ", train.size(), " in ", train_path));
    }
    std::vector<size_t> order = SeededPermutation(train.size(), static_cast<uint64_t>(fewshot_seed));
    order.resize(static_cast<size_t>(n_shot));
    for (size_t i : order) exemplars.push_back(train[i]);
    exemplar_ids = absl::StrJoin(order, ",");
  }
  const Gsm8kPromptBuilder builder(std::move(exemplars), cot, stop_at_blank_line);

  // Prompts keep their last (max_length - max_new_tokens) tokens, as lm-eval does.
  const std::vector<size_t> chosen = SubsampleIndices(test.size(), common.subsample);
  const size_t budget = static_cast<size_t>(max_length - max_new_tokens);
  std::vector<std::vector<int32_t>> prompts;
  int64_t truncated = 0;
  for (size_t i : chosen) {
    std::vector<int32_t> ids = context.tokenizer->Encode(builder.Render(test[i].question), common.bos);
    if (ids.size() > budget) {
      ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(budget));
      ++truncated;
    }
    prompts.push_back(std::move(ids));
  }
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return prompts[a].size() > prompts[b].size(); });

  GenerationOptions generation;
  generation.max_new_tokens = static_cast<int>(max_new_tokens);
  generation.greedy = true;
  generation.stop_strings = builder.stop_strings();
  std::vector<Generation> outputs(prompts.size());
  const size_t batch = static_cast<size_t>(common.batch_size);
  for (size_t first = 0; first < order.size(); first += batch) {
    const size_t last = std::min(order.size(), first + batch);
    std::vector<std::vector<int32_t>> group;
    for (size_t k = first; k < last; ++k) group.push_back(prompts[order[k]]);
    LLMQ_ASSIGN_OR_RETURN(
        std::vector<Generation> generated,
        CatchExceptions("gsm8k generation", [&]() -> absl::StatusOr<std::vector<Generation>> {
          return Generate(*context.model, context.tokenizer, group, generation);
        }));
    for (size_t k = first; k < last; ++k) outputs[order[k]] = std::move(generated[k - first]);
    if (context.progress) {
      context.progress(static_cast<int64_t>(last), static_cast<int64_t>(order.size()), "gsm8k problems");
    }
  }

  int64_t strict = 0, flexible = 0, no_strict_answer = 0, hit_length = 0;
  ExampleSeries strict_scores{"correct_strict", "exact_match_strict"};
  ExampleSeries flexible_scores{"correct_flexible", "exact_match_flexible"};
  std::vector<int64_t> example_ids;
  for (size_t k = 0; k < chosen.size(); ++k) {
    const std::string gold = Gsm8kGoldAnswer(test[chosen[k]].answer);
    const std::optional<std::string> strict_answer = ExtractStrictAnswer(outputs[k].text, cot);
    const bool strict_match = AnswersMatch(strict_answer, gold);
    const bool flexible_match = AnswersMatch(ExtractLastNumber(outputs[k].text), gold);
    strict += strict_match;
    flexible += flexible_match;
    strict_scores.values.push_back(strict_match ? 1.0 : 0.0);
    flexible_scores.values.push_back(flexible_match ? 1.0 : 0.0);
    example_ids.push_back(static_cast<int64_t>(chosen[k]));
    no_strict_answer += !strict_answer.has_value();
    hit_length += outputs[k].stop_reason == "length";
  }
  const double n = static_cast<double>(std::max<size_t>(1, chosen.size()));
  TaskOutput out;
  out.metrics = {
      {"exact_match_strict", static_cast<double>(strict) / n, ""},
      {"exact_match_flexible", static_cast<double>(flexible) / n, ""},
      {"n", static_cast<double>(chosen.size()), "examples"},
  };
  out.examples.ids = std::move(example_ids);
  out.examples.series = {std::move(strict_scores), std::move(flexible_scores)};
  AddCommonProvenance("gsm8k", common, test.size(), out.provenance);
  const std::string template_text = builder.TemplateText();
  out.provenance["gsm8k.dataset"] = test_path;
  out.provenance["gsm8k.dataset_sha256"] = test_sha256;
  out.provenance["gsm8k.format"] = cot ? "gsm8k-cot (Wei et al. exemplars)" : "gsm8k";
  out.provenance["gsm8k.n_shot"] = absl::StrCat(n_shot);
  out.provenance["gsm8k.fewshot_seed"] = absl::StrCat(fewshot_seed);
  out.provenance["gsm8k.exemplars"] = exemplar_ids;
  if (!cot && n_shot > 0) out.provenance["gsm8k.train"] = train_path;
  out.provenance["gsm8k.template_sha256"] = Sha256Hex(template_text);
  out.provenance["gsm8k.template_chars"] = absl::StrCat(template_text.size());
  out.provenance["gsm8k.max_new_tokens"] = absl::StrCat(max_new_tokens);
  out.provenance["gsm8k.decoding"] = "greedy";
  std::string stops;
  for (const std::string& s : builder.stop_strings()) {
    absl::StrAppend(&stops, stops.empty() ? "" : " ", s == "\n\n" ? "\\n\\n" : s);
  }
  out.provenance["gsm8k.stop_strings"] = stops;
  out.provenance["gsm8k.truncated_prompts"] = absl::StrCat(truncated);
  out.provenance["gsm8k.no_strict_answer"] = absl::StrCat(no_strict_answer);
  out.provenance["gsm8k.stopped_at_max_new_tokens"] = absl::StrCat(hit_length);
  out.provenance["gsm8k.n"] = absl::StrCat(chosen.size());
  return out;
}

}  // namespace llmq

// GSM8K answer extraction and comparison (see gsm8k.h for the rules).
namespace llmq {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the number [-][$]digit(digit|,digit)*(.digit+)? starting at `pos`, or 0.
size_t NumberLengthAt(absl::string_view text, size_t pos) {
  const size_t n = text.size();
  size_t i = pos;
  if (i < n && text[i] == '-') ++i;
  if (i < n && text[i] == '$') ++i;
  if (i >= n || !IsDigit(text[i])) return 0;
  while (i < n && (IsDigit(text[i]) || (text[i] == ',' && i + 1 < n && IsDigit(text[i + 1])))) ++i;
  if (i + 1 < n && text[i] == '.' && IsDigit(text[i + 1])) {
    ++i;
    while (i < n && IsDigit(text[i])) ++i;
  }
  return i - pos;
}

}  // namespace

std::string Gsm8kGoldAnswer(absl::string_view answer) {
  const size_t at = answer.rfind("#### ");
  if (at == absl::string_view::npos) return std::string(absl::StripAsciiWhitespace(answer));
  return std::string(absl::StripAsciiWhitespace(answer.substr(at + 5)));
}

std::optional<std::string> ExtractStrictAnswer(absl::string_view completion, bool cot) {
  const absl::string_view marker = cot ? "The answer is " : "#### ";
  for (size_t at = completion.find(marker); at != absl::string_view::npos;
       at = completion.find(marker, at + 1)) {
    const size_t begin = at + marker.size();
    const size_t length = NumberLengthAt(completion, begin);
    if (length > 0) return std::string(completion.substr(begin, length));
  }
  return std::nullopt;
}

std::optional<std::string> ExtractLastNumber(absl::string_view completion) {
  std::optional<std::string> last;
  size_t i = 0;
  while (i < completion.size()) {
    const bool after_word = i > 0 && absl::ascii_isalnum(static_cast<unsigned char>(completion[i - 1]));
    const size_t length = after_word ? 0 : NumberLengthAt(completion, i);
    if (length == 0) {
      ++i;
      continue;
    }
    const size_t end = i + length;
    const bool before_word = end < completion.size() && absl::ascii_isalpha(static_cast<unsigned char>(completion[end]));
    if (!before_word) last = std::string(completion.substr(i, length));
    i = end;
  }
  return last;
}

std::optional<double> ParseAnswerNumber(absl::string_view answer) {
  std::string kept;
  for (char c : absl::StripAsciiWhitespace(answer)) {
    if (c != ',' && c != '$') kept.push_back(c);
  }
  if (!kept.empty() && kept.back() == '.') kept.pop_back();
  // Only [-]digits[.digits]: SimpleAtod alone would also take "inf", "1e5" or hex.
  size_t i = 0;
  if (i < kept.size() && kept[i] == '-') ++i;
  size_t digits = 0, dots = 0;
  for (; i < kept.size(); ++i) {
    if (IsDigit(kept[i])) {
      ++digits;
    } else if (kept[i] == '.' && dots == 0 && digits > 0 && i + 1 < kept.size()) {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  double value;
  if (digits == 0 || !absl::SimpleAtod(kept, &value)) return std::nullopt;
  return value;
}

bool AnswersMatch(const std::optional<std::string>& predicted, absl::string_view gold) {
  if (!predicted) return false;
  const std::optional<double> p = ParseAnswerNumber(*predicted);
  const std::optional<double> g = ParseAnswerNumber(gold);
  return p && g && *p == *g;
}

}  // namespace llmq
