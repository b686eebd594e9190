// GSM8K answer extraction and comparison (see gsm8k.h for the rules).
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "eval/gsm8k.h"

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
