// Evaluation datasets stored as JSON Lines: one JSON object per non-blank line. Every
// error names the file and the 1-based line ("val.jsonl:17: no string field 'question'").
// Internal to eval/: the task files parse their own records from these lines.
#ifndef LLMQ_EVAL_JSONL_H_
#define LLMQ_EVAL_JSONL_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct JsonLine {
  std::string path;  // the file, for error messages
  int64_t line = 0;  // 1-based
  nlohmann::json value;
};

// The objects of `text`, which came from `path`. Blank lines are skipped; a line that is
// not a JSON object is an InvalidArgument naming path:line.
absl::StatusOr<std::vector<JsonLine>> ParseJsonLines(absl::string_view text, const std::string& path);
absl::StatusOr<std::vector<JsonLine>> ReadJsonLines(const std::string& path);

// InvalidArgument "path:line: message".
absl::Status LineError(const JsonLine& line, absl::string_view message);

// Typed fields; a missing field or one of another type is a LineError naming the field.
absl::StatusOr<std::string> StringField(const JsonLine& line, const char* field);
absl::StatusOr<int64_t> IntField(const JsonLine& line, const char* field);
absl::StatusOr<std::vector<std::string>> StringListField(const JsonLine& line, const char* field);

}  // namespace llmq

#endif  // LLMQ_EVAL_JSONL_H_
