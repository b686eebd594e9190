#include "common/params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "common/status.h"

namespace llmq {

void NoteParamRead(const std::string& name);

namespace {

absl::Status BadValue(const std::string& name, const std::string& value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter '", name, "' = '", value, "': expected ", expected));
}

thread_local ParamReadLog* current_log = nullptr;

absl::StatusOr<std::string> Find(const Params& params, const std::string& name) {
  NoteParamRead(name);
  auto it = params.find(name);
  if (it == params.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter '", name, "' is missing (parameters are completed from the grid schema)"));
  }
  return it->second;
}

}  // namespace

void NoteParamRead(const std::string& name) {
  if (current_log != nullptr) current_log->names_.insert(name);
}

ParamReadLog::ParamReadLog() { current_log = this; }
ParamReadLog::~ParamReadLog() { current_log = nullptr; }

absl::StatusOr<int64_t> GetInt(const Params& params, const std::string& name) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, Find(params, name));
  int64_t value;
  if (!absl::SimpleAtoi(text, &value)) return BadValue(name, text, "an integer");
  return value;
}

absl::StatusOr<double> GetDouble(const Params& params, const std::string& name) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, Find(params, name));
  double value;
  if (!absl::SimpleAtod(text, &value)) return BadValue(name, text, "a number");
  return value;
}

absl::StatusOr<bool> GetBool(const Params& params, const std::string& name) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, Find(params, name));
  bool value;
  if (!absl::SimpleAtob(text, &value)) return BadValue(name, text, "true or false");
  return value;
}

absl::StatusOr<std::string> GetString(const Params& params, const std::string& name) {
  return Find(params, name);
}

absl::StatusOr<std::vector<int64_t>> GetIntList(const Params& params, const std::string& name) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, Find(params, name));
  std::vector<int64_t> values;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t value;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(piece), &value)) {
      return BadValue(name, text, "a comma-separated list of integers");
    }
    values.push_back(value);
  }
  return values;
}

}  // namespace llmq
