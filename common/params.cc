#include "common/params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"

namespace llmq {
namespace {

absl::Status BadValue(const std::string& name, const std::string& value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter '", name, "' = '", value, "': expected ", expected));
}

}  // namespace

absl::StatusOr<int64_t> GetInt(const Params& params, const std::string& name, int64_t fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  int64_t value;
  if (!absl::SimpleAtoi(it->second, &value)) return BadValue(name, it->second, "an integer");
  return value;
}

absl::StatusOr<double> GetDouble(const Params& params, const std::string& name, double fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  double value;
  if (!absl::SimpleAtod(it->second, &value)) return BadValue(name, it->second, "a number");
  return value;
}

absl::StatusOr<bool> GetBool(const Params& params, const std::string& name, bool fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  bool value;
  if (!absl::SimpleAtob(it->second, &value)) return BadValue(name, it->second, "true or false");
  return value;
}

std::string GetString(const Params& params, const std::string& name, const std::string& fallback) {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

absl::StatusOr<std::vector<int64_t>> GetIntList(const Params& params, const std::string& name,
                                                const std::vector<int64_t>& fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  std::vector<int64_t> values;
  for (absl::string_view piece : absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
    int64_t value;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(piece), &value)) {
      return BadValue(name, it->second, "a comma-separated list of integers");
    }
    values.push_back(value);
  }
  return values;
}

}  // namespace llmq
