#include "report/table_format.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace llmq {
namespace {

// Display width: UTF-8 continuation bytes take no column.
size_t Width(absl::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

bool LooksNumeric(absl::string_view text) {
  double value = 0;
  return !text.empty() && absl::SimpleAtod(text, &value) && std::isfinite(value);
}

// For alignment: a number, possibly bold and followed by a spread or a change
// ("**4.388** ±0.1 (+6.8%)").
bool StartsWithNumber(absl::string_view text) {
  if (absl::StartsWith(text, "**")) text.remove_prefix(2);
  return LooksNumeric(text.substr(0, text.find_first_of(" *")));
}

}  // namespace

std::string RenderMarkdown(const Table& table) {
  const size_t columns = table.header.size();
  std::vector<size_t> widths(columns, 3);
  std::vector<bool> numeric(columns, true);
  for (size_t c = 0; c < columns; ++c) widths[c] = std::max(widths[c], Width(table.header[c]));
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < columns && c < row.size(); ++c) {
      widths[c] = std::max(widths[c], Width(row[c]));
      if (!row[c].empty() && row[c] != "-" && !StartsWithNumber(row[c])) numeric[c] = false;
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < columns; ++c) {
      const std::string cell = c < cells.size() ? absl::StrReplaceAll(cells[c], {{"|", "\\|"}})
                                                : std::string();
      const std::string pad(widths[c] - std::min(widths[c], Width(cell)), ' ');
      absl::StrAppend(&out, " ", numeric[c] ? pad + cell : cell + pad, " |");
    }
    return out + "\n";
  };
  std::string out = line(table.header);
  out += "|";
  for (size_t c = 0; c < columns; ++c) {
    absl::StrAppend(&out, numeric[c] ? std::string(widths[c] + 1, '-') + ":"
                                     : ":" + std::string(widths[c] + 1, '-'),
                    "|");
  }
  out += "\n";
  for (const auto& row : table.rows) out += line(row);
  return out;
}

std::string RenderCsv(const Table& table) {
  auto field = [](const std::string& cell) {
    if (cell.find_first_of(",\"\n\r") == std::string::npos) return cell;
    return absl::StrCat("\"", absl::StrReplaceAll(cell, {{"\"", "\"\""}}), "\"");
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) absl::StrAppend(&out, c ? "," : "", field(cells[c]));
    return out + "\r\n";
  };
  std::string out = line(table.header);
  for (const auto& row : table.rows) out += line(row);
  return out;
}

std::string RenderJson(const Table& table) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : table.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < table.header.size() && c < row.size(); ++c) {
      double number = 0;
      if (row[c].empty() || row[c] == "-") {
        object[table.header[c]] = nullptr;
      } else if (LooksNumeric(row[c]) && absl::SimpleAtod(row[c], &number)) {
        object[table.header[c]] = number;
      } else {
        object[table.header[c]] = row[c];
      }
    }
    rows.push_back(std::move(object));
  }
  return rows.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string EscapeHtml(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string RenderHtml(const Table& table) {
  const size_t columns = table.header.size();
  std::vector<bool> numeric(columns, !table.rows.empty());
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < columns && c < row.size(); ++c) {
      if (!row[c].empty() && row[c] != "-" && !StartsWithNumber(row[c])) numeric[c] = false;
    }
  }
  auto cell = [](absl::string_view text) {
    if (absl::StartsWith(text, "**")) {
      const size_t end = text.find("**", 2);
      if (end != absl::string_view::npos) {
        return absl::StrCat("<strong>", EscapeHtml(text.substr(2, end - 2)), "</strong>",
                            EscapeHtml(text.substr(end + 2)));
      }
    }
    return EscapeHtml(text);
  };
  std::string out = "<table>\n<thead><tr>";
  for (size_t c = 0; c < columns; ++c) {
    absl::StrAppend(&out, numeric[c] ? "<th class=\"num\">" : "<th>", EscapeHtml(table.header[c]),
                    "</th>");
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (size_t c = 0; c < columns; ++c) {
      absl::StrAppend(&out, numeric[c] ? "<td class=\"num\">" : "<td>",
                      c < row.size() ? cell(row[c]) : "", "</td>");
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

absl::StatusOr<std::string> RenderTable(const Table& table, absl::string_view format) {
  if (format == "markdown" || format == "md") return RenderMarkdown(table);
  if (format == "csv") return RenderCsv(table);
  if (format == "json") return RenderJson(table);
  if (format == "html") return RenderHtml(table);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown table format '", format, "' (markdown, csv, json or html)"));
}

}  // namespace llmq
