// A plain table (a header and rows of text cells) and its renderings: aligned Markdown for
// terminals and papers' drafts, RFC 4180 CSV for spreadsheets, JSON (an array of objects
// keyed by the header) for scripts, an HTML <table> for the dashboard. Cells that read as
// numbers are JSON numbers.
#ifndef LLMQ_REPORT_TABLE_FORMAT_H_
#define LLMQ_REPORT_TABLE_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
};

std::string RenderMarkdown(const Table& table);
std::string RenderCsv(const Table& table);
std::string RenderJson(const Table& table);
// Every cell escaped; a Markdown-bold cell ("**4.39** (+2%)") has its bold part in <strong>,
// number-led columns are right-aligned (class "num").
std::string RenderHtml(const Table& table);

// Text safe inside HTML elements and double-quoted attributes.
std::string EscapeHtml(absl::string_view text);

// By name: "markdown" (or "md"), "csv", "json", "html". InvalidArgument for anything else.
absl::StatusOr<std::string> RenderTable(const Table& table, absl::string_view format);

}  // namespace llmq

#endif  // LLMQ_REPORT_TABLE_FORMAT_H_
