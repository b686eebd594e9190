// Scalar values of the grid file in canonical form, and where its paths point.
#include "grid/values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace llmq {
namespace {

absl::Status Expected(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", what, ", got \"", text, "\""));
}

// Splits "1.5h30m" style text into a leading number and the rest.
bool TakeNumber(absl::string_view* text, double* value) {
  size_t n = 0;
  while (n < text->size() && (absl::ascii_isdigit((*text)[n]) || (*text)[n] == '.')) ++n;
  if (n == 0) return false;
  const std::string number(text->substr(0, n));
  char* end = nullptr;
  *value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return false;
  text->remove_prefix(n);
  return true;
}

}  // namespace

absl::StatusOr<int64_t> ParseGridInt(absl::string_view text) {
  absl::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 19) return Expected("an integer", text);
  uint64_t magnitude = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return Expected("an integer", text);
    magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (magnitude > limit) return Expected("an integer that fits in 64 bits", text);
  const int64_t value = static_cast<int64_t>(magnitude);
  return negative ? -value : value;
}

absl::StatusOr<double> ParseGridFloat(absl::string_view text) {
  const std::string copy(absl::StripAsciiWhitespace(text));
  if (copy.empty()) return Expected("a number", text);
  // strtod also accepts hex floats, "inf" and "nan": allow only decimal/scientific digits.
  for (char c : copy) {
    if (!absl::ascii_isdigit(c) && c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
      return Expected("a number", text);
    }
  }
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value)) {
    return Expected("a number", text);
  }
  return value;
}

absl::StatusOr<bool> ParseGridBool(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return Expected("true or false", text);
}

std::string CanonicalFloat(double value) {
  if (value == 0) value = 0;  // -0 and 0 are one value
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

absl::StatusOr<std::string> CanonicalIntList(absl::string_view text) {
  std::set<int64_t> values;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    absl::StatusOr<int64_t> value = ParseGridInt(item);
    if (!value.ok() || *value <= 0) {
      return Expected("comma-separated positive integers like \"128,512\"", text);
    }
    values.insert(*value);
  }
  if (values.empty()) return Expected("comma-separated positive integers like \"128,512\"", text);
  return absl::StrJoin(values, ",");
}

absl::StatusOr<std::string> CanonicalPatternList(absl::string_view text) {
  std::set<std::string> patterns;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    for (char c : item) {
      if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '*' && c != '?') {
        return Expected(
            "comma-separated module-name patterns (letters, digits, _ . - * ?) like "
            "\"lm_head,model.layers.0.*\"",
            text);
      }
    }
    patterns.emplace(item);
  }
  return absl::StrJoin(patterns, ",");
}

absl::StatusOr<int64_t> ParseDurationSeconds(absl::string_view text) {
  constexpr absl::string_view kExpected =
      "a duration like 90s, 30m, 2h, 1h30m, 1d, or a number of seconds";
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (rest.empty()) return Expected(kExpected, text);
  if (absl::AsciiStrToLower(rest) == "none") return 0;
  double seconds = 0;
  if (absl::SimpleAtod(rest, &seconds)) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e12) return Expected(kExpected, text);
    return static_cast<int64_t>(std::llround(seconds));
  }
  seconds = 0;
  while (!rest.empty()) {
    double number = 0;
    if (!TakeNumber(&rest, &number) || rest.empty()) return Expected(kExpected, text);
    const char unit = absl::ascii_tolower(rest[0]);
    rest.remove_prefix(1);
    switch (unit) {
      case 'd': seconds += number * 86400; break;
      case 'h': seconds += number * 3600; break;
      case 'm': seconds += number * 60; break;
      case 's': seconds += number; break;
      default: return Expected(kExpected, text);
    }
  }
  if (seconds > 1e12) return Expected(kExpected, text);
  return static_cast<int64_t>(std::llround(seconds));
}

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  constexpr absl::string_view kExpected = "a size like 2GiB, 512MiB, 16G or a number of bytes";
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  double number = 0;
  if (!TakeNumber(&rest, &number)) return Expected(kExpected, text);
  const std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(rest));
  double multiplier = 0;
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"", 1},          {"b", 1},
      {"k", 0x1p10},    {"ki", 0x1p10},  {"kib", 0x1p10}, {"kb", 1e3},
      {"m", 0x1p20},    {"mi", 0x1p20},  {"mib", 0x1p20}, {"mb", 1e6},
      {"g", 0x1p30},    {"gi", 0x1p30},  {"gib", 0x1p30}, {"gb", 1e9},
      {"t", 0x1p40},    {"ti", 0x1p40},  {"tib", 0x1p40}, {"tb", 1e12},
  };
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) multiplier = factor;
  }
  const double bytes = number * multiplier;
  if (multiplier == 0 || !std::isfinite(bytes) || bytes > 0x1p62) {
    return Expected(kExpected, text);
  }
  return static_cast<int64_t>(std::llround(bytes));
}

}  // namespace llmq

namespace llmq {

std::string NormalizePath(absl::string_view path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      if (absolute) continue;  // "/.." is "/"
    }
    parts.push_back(part);
  }
  const std::string joined = absl::StrJoin(parts, "/");
  if (absolute) return absl::StrCat("/", joined);
  return joined.empty() ? "." : joined;
}

absl::StatusOr<std::string> ResolveGridPath(absl::string_view grid_file,
                                            absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("expected a path, got \"\"");
  if (path[0] == '~') {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", path, "\": \"~\" is not expanded (the coordinator and workers may have another "
        "home directory); write an absolute path or one relative to the grid file"));
  }
  if (path[0] == '/') return NormalizePath(path);
  const size_t slash = grid_file.find_last_of('/');
  if (slash == absl::string_view::npos) return NormalizePath(path);
  return NormalizePath(absl::StrCat(grid_file.substr(0, slash + 1), path));
}

std::string MakeAbsolutePath(absl::string_view path) {
  if (!path.empty() && path[0] == '/') return NormalizePath(path);
  std::vector<char> buffer(4096);
  if (::getcwd(buffer.data(), buffer.size()) == nullptr) return NormalizePath(path);
  return NormalizePath(absl::StrCat(buffer.data(), "/", path));
}

}  // namespace llmq
