#include "tokenizer/pretokenizer_regex.h"

#include <re2/re2.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace llmq {

const char kGpt2SplitPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// White_Space, Oniguruma's (and Rust's) `\s`.
constexpr char kWhitespaceSet[] =
    R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
// Oniguruma's Unicode `\w`: letters, marks, decimal digits, connector punctuation.
constexpr char kWordSet[] = R"(\p{L}\p{M}\p{Nd}\p{Pc})";
constexpr char kLookaheadIdiom[] = R"(\s+(?!\S)|\s+)";
constexpr char kLookaheadPart[] = R"(\s+(?!\S))";
constexpr char kWhitespaceGroupName[] = "llmq_ws";

// `set` as a class of its own, or spliced into the class being written.
std::string ClassOf(const char* set, bool negated, bool in_class) {
  if (in_class) return set;
  return absl::StrCat(negated ? "[^" : "[", set, "]");
}

}  // namespace

absl::StatusOr<std::string> PreTokenizerRegex::TranslateToRe2(absl::string_view pattern,
                                                             bool* whitespace_lookahead) {
  std::string p(pattern);
  const size_t idiom = p.find(kLookaheadIdiom);
  *whitespace_lookahead = idiom != std::string::npos;
  if (*whitespace_lookahead) {
    p.replace(idiom, std::strlen(kLookaheadPart),
              absl::StrCat("(?P<", kWhitespaceGroupName, R"(>\s+))"));
  }
  for (const char* unsupported : {"(?=", "(?!", "(?<=", "(?<!", "(?>"}) {
    if (p.find(unsupported) != std::string::npos) {
      return absl::UnimplementedError(
          absl::StrCat("regex ", pattern, ": '", unsupported, "' is not supported"));
    }
  }
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      const bool negated = e == 'S' || e == 'D' || e == 'W';
      if (negated && in_class) {
        return absl::UnimplementedError(
            absl::StrCat("regex ", pattern, ": \\", std::string(1, e), " inside [...]"));
      }
      switch (e) {
        case 's':
        case 'S':
          out += ClassOf(kWhitespaceSet, negated, in_class);
          break;
        case 'w':
        case 'W':
          out += ClassOf(kWordSet, negated, in_class);
          break;
        case 'd':
          out += R"(\p{Nd})";
          break;
        case 'D':
          out += R"(\P{Nd})";
          break;
        default:
          out += c;
          out += e;
      }
      continue;
    }
    out += c;
    if (c == '[' && !in_class) {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a leading ']' is literal
    } else if (c == ']' && in_class) {
      in_class = false;
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const PreTokenizerRegex>> PreTokenizerRegex::Compile(
    absl::string_view pattern) {
  bool whitespace_lookahead;
  absl::StatusOr<std::string> translated = TranslateToRe2(pattern, &whitespace_lookahead);
  if (!translated.ok()) return translated.status();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);  // Unicode classes make large automata
  auto re = std::make_unique<RE2>(*translated, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("regex ", pattern, ": RE2 cannot compile it: ", re->error()));
  }
  int group = -1;
  if (whitespace_lookahead) group = re->NamedCapturingGroups().at(kWhitespaceGroupName);
  return std::shared_ptr<const PreTokenizerRegex>(new PreTokenizerRegex(std::move(re), group));
}

PreTokenizerRegex::PreTokenizerRegex(std::unique_ptr<re2::RE2> re, int whitespace_group)
    : re_(std::move(re)), whitespace_group_(whitespace_group) {}

PreTokenizerRegex::~PreTokenizerRegex() = default;

std::vector<std::pair<size_t, size_t>> PreTokenizerRegex::FindAll(absl::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  const re2::StringPiece input(text.data(), text.size());
  const int groups = whitespace_group_ < 0 ? 1 : whitespace_group_ + 1;
  std::vector<re2::StringPiece> submatch(groups);
  size_t pos = 0;
  while (pos < text.size()) {
    if (!re_->Match(input, pos, text.size(), RE2::UNANCHORED, submatch.data(), groups)) break;
    const size_t begin = submatch[0].data() - text.data();
    size_t end = begin + submatch[0].size();
    if (whitespace_group_ >= 0 && submatch[whitespace_group_].data() != nullptr &&
        end < text.size()) {
      // `\s+(?!\S)` before a non-space backtracks by one character, unless that would
      // leave nothing (then the `\s+` alternative takes the single character).
      size_t last = end - 1;
      while (last > begin && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
      if (last > begin) end = last;
    }
    if (end == begin) {  // an empty match: step over one character
      pos = begin + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    matches.emplace_back(begin, end);
    pos = end;
  }
  return matches;
}

}  // namespace llmq
