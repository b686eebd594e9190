#include "eval/jsonl.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"

namespace llmq {

absl::StatusOr<std::vector<JsonLine>> ParseJsonLines(absl::string_view text, const std::string& path) {
  std::vector<JsonLine> out;
  int64_t number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    JsonLine parsed{path, number, nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                                        /*allow_exceptions=*/false)};
    if (parsed.value.is_discarded()) return LineError(parsed, "not valid JSON");
    if (!parsed.value.is_object()) return LineError(parsed, "not a JSON object");
    out.push_back(std::move(parsed));
  }
  return out;
}

absl::StatusOr<std::vector<JsonLine>> ReadJsonLines(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseJsonLines(text, path);
}

absl::Status LineError(const JsonLine& line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(line.path, ":", line.line, ": ", message));
}

absl::StatusOr<std::string> StringField(const JsonLine& line, const char* field) {
  auto it = line.value.find(field);
  if (it == line.value.end() || !it->is_string()) {
    return LineError(line, absl::StrCat("no string field '", field, "'"));
  }
  return it->get<std::string>();
}

absl::StatusOr<int64_t> IntField(const JsonLine& line, const char* field) {
  auto it = line.value.find(field);
  if (it == line.value.end() || !it->is_number_integer()) {
    return LineError(line, absl::StrCat("no integer field '", field, "'"));
  }
  return it->get<int64_t>();
}

absl::StatusOr<std::vector<std::string>> StringListField(const JsonLine& line, const char* field) {
  auto it = line.value.find(field);
  if (it == line.value.end() || !it->is_array()) {
    return LineError(line, absl::StrCat("no list field '", field, "'"));
  }
  std::vector<std::string> out;
  for (const nlohmann::json& item : *it) {
    if (!item.is_string()) return LineError(line, absl::StrCat("'", field, "' holds a non-string"));
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace llmq
