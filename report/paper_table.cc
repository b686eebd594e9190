#include "report/paper_table.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace llmq {
namespace {

// To the last of `precision` significant digits of the larger value: 0.7 against 0.75
// is -0.0500 at four digits, 4.25 bits against 32 is -27.75.
int DeltaDecimals(const PivotCell& cell, double divisor, int precision) {
  const double larger = std::max(std::abs(cell.mean), std::abs(*cell.baseline)) / divisor;
  const int exponent = larger > 0 ? static_cast<int>(std::floor(std::log10(larger))) : 0;
  return std::max(0, precision - 1 - exponent);
}

// A change written as --delta writes it: `relative` a fraction (0.068 -> "+6.8%"), else a
// difference in stored units.
std::string FormatChange(double change, bool relative, int decimals, double divisor) {
  if (!std::isfinite(change)) return "";
  std::string text = relative ? absl::StrFormat("%+.1f%%", 100.0 * change)
                              : absl::StrFormat("%+.*f", decimals, change / divisor);
  // "-0.0000" when the difference rounds away: no sign to read into it.
  if (text.find_first_not_of("+-0.%") == std::string::npos) text[0] = '+';
  return text;
}

std::string FormatDelta(const PivotCell& cell, DeltaKind kind, double divisor, int precision) {
  if (!cell.baseline.has_value()) return "";
  const double baseline = *cell.baseline;
  if (kind == DeltaKind::kRelative) {
    if (baseline == 0 || !std::isfinite(baseline)) return "";
    return FormatChange(cell.mean / baseline - 1.0, true, 1, 1);
  }
  return FormatChange(cell.mean - baseline, false, DeltaDecimals(cell, divisor, precision), divisor);
}

// The paired change's interval and p-value, as FormatDelta writes the change.
void FormatPaired(const PivotCell& cell, DeltaKind kind, double divisor, int precision,
                  PaperCell* out) {
  if (!cell.paired.has_value() || !cell.baseline.has_value()) return;
  const PairedDelta& paired = *cell.paired;
  if (!std::isfinite(paired.interval.low) || !std::isfinite(paired.interval.high)) return;
  const bool relative = kind == DeltaKind::kRelative;
  const int decimals = relative ? 1 : DeltaDecimals(cell, divisor, precision);
  out->delta_ci_low = FormatChange(paired.interval.low, relative, decimals, divisor);
  out->delta_ci_high = FormatChange(paired.interval.high, relative, decimals, divisor);
  out->p_value = absl::StrFormat("%.3g", paired.p_value);
  out->significant = paired.ExcludesZero();
}

// Rows compete with the rows that share their model and every other coordinate that is not
// the method's: a 1B model's best is not a 7B model's.
std::vector<std::string> CompetitionKeys(const Pivot& pivot) {
  std::vector<std::string> keys;
  for (const auto& labels : pivot.row_labels) {
    std::string key;
    for (size_t k = 0; k < labels.size(); ++k) {
      if (!IsMethodCoordinate(pivot.row_names[k])) absl::StrAppend(&key, labels[k], "\x1f");
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

void MarkBest(const Pivot& pivot, size_t column, Better better,
              const std::vector<std::string>& competitions, PaperTable* table) {
  if (better == Better::kNeither) return;
  std::map<std::string, std::vector<size_t>> contenders;  // competition -> rows
  for (size_t r = 0; r < pivot.cells.size(); ++r) {
    const PivotCell& cell = pivot.cells[r][column];
    if (pivot.row_is_baseline[r] || cell.count == 0 || !std::isfinite(cell.mean)) continue;
    contenders[competitions[r]].push_back(r);
  }
  for (const auto& [competition, rows] : contenders) {
    if (rows.size() < 2) continue;
    size_t best = rows[0];
    for (size_t r : rows) {
      const double mean = pivot.cells[r][column].mean, best_mean = pivot.cells[best][column].mean;
      if (better == Better::kLower ? mean < best_mean : mean > best_mean) best = r;
    }
    const std::string& best_text = table->cells[best][column].value;
    // All alike (weights held at 32 bits whatever the method): nothing stands out.
    if (std::all_of(rows.begin(), rows.end(),
                    [&](size_t r) { return table->cells[r][column].value == best_text; })) {
      continue;
    }
    for (size_t r : rows) table->cells[r][column].best = table->cells[r][column].value == best_text;
  }
}

}  // namespace

std::string FormatNumber(double value, int precision) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  const double magnitude = std::abs(value);
  if (magnitude < 1e15 && value == std::floor(value)) return absl::StrFormat("%.0f", value);
  if (magnitude >= std::pow(10.0, std::max(1, precision) - 1) - 0.5) {
    return absl::StrFormat("%.0f", value);
  }
  return absl::StrFormat("%.*g", std::max(1, precision), value);
}

PaperTable FormatPivot(const Pivot& pivot, const PivotOptions& options) {
  PaperTable table;
  table.row_header = pivot.row_names;
  table.row_labels = pivot.row_labels;
  table.has_delta = options.delta;
  table.has_ci = options.ci;
  table.cells.assign(pivot.cells.size(), std::vector<PaperCell>(pivot.columns.size()));
  const std::vector<std::string> competitions = CompetitionKeys(pivot);
  for (size_t c = 0; c < pivot.columns.size(); ++c) {
    const PivotColumn& column = pivot.columns[c];
    const MetricInfo info = DescribeMetric(column.metric, column.unit);
    double largest = 0;
    for (const auto& row : pivot.cells) {
      if (row[c].count > 0 && std::isfinite(row[c].mean)) {
        largest = std::max(largest, std::abs(row[c].mean));
      }
    }
    const DisplayUnit unit = ChooseDisplayUnit(info.unit, largest);
    table.columns.push_back({column.group, ColumnLabel(info, unit), info.delta});
    for (size_t r = 0; r < pivot.cells.size(); ++r) {
      const PivotCell& cell = pivot.cells[r][c];
      if (cell.count == 0) continue;
      PaperCell& out = table.cells[r][c];
      out.present = true;
      out.value = FormatNumber(cell.mean / unit.divisor, options.precision);
      if (cell.count > 1) out.spread = FormatNumber(cell.stddev / unit.divisor, 2);
      if (options.delta && !pivot.row_is_baseline[r]) {
        out.delta = FormatDelta(cell, info.delta, unit.divisor, options.precision);
        FormatPaired(cell, info.delta, unit.divisor, options.precision, &out);
      }
      if (cell.interval.has_value()) {
        out.ci_low = FormatNumber(cell.interval->low / unit.divisor, options.precision);
        out.ci_high = FormatNumber(cell.interval->high / unit.divisor, options.precision);
      }
    }
    if (options.mark_best) MarkBest(pivot, c, info.better, competitions, &table);
  }
  return table;
}

std::string FlatHeader(const PaperColumn& column) {
  std::vector<std::string> parts = column.group;
  if (std::find(parts.begin(), parts.end(), column.label) == parts.end()) {
    parts.push_back(column.label);
  }
  return absl::StrJoin(parts, " ");
}

Table ToMarkupTable(const PaperTable& paper) {
  Table table;
  table.header = paper.row_header;
  for (const PaperColumn& column : paper.columns) table.header.push_back(FlatHeader(column));
  for (size_t r = 0; r < paper.row_labels.size(); ++r) {
    std::vector<std::string> line = paper.row_labels[r];
    for (const PaperCell& cell : paper.cells[r]) {
      if (!cell.present) {
        line.push_back("-");
        continue;
      }
      std::string text = cell.best ? absl::StrCat("**", cell.value, "**") : cell.value;
      if (!cell.spread.empty()) absl::StrAppend(&text, " ±", cell.spread);
      if (!cell.ci_low.empty()) absl::StrAppend(&text, " [", cell.ci_low, ", ", cell.ci_high, "]");
      if (!cell.delta.empty()) {
        std::string delta = cell.delta;
        if (!cell.delta_ci_low.empty()) {
          // p = 0 means no resample crossed 0: below the resolution of 1,000 resamples.
          const std::string p = cell.p_value == "0" ? "p<0.001" : absl::StrCat("p=", cell.p_value);
          absl::StrAppend(&delta, " [", cell.delta_ci_low, ", ", cell.delta_ci_high, "] ", p,
                          cell.significant ? " *" : "");
        }
        absl::StrAppend(&text, " (", delta, ")");
      }
      line.push_back(std::move(text));
    }
    table.rows.push_back(std::move(line));
  }
  return table;
}

Table ToPlainTable(const PaperTable& paper) {
  Table table;
  table.header = paper.row_header;
  for (const PaperColumn& column : paper.columns) {
    const std::string header = FlatHeader(column);
    table.header.push_back(header);
    if (paper.has_ci) {
      table.header.push_back(absl::StrCat(header, " ci_low"));
      table.header.push_back(absl::StrCat(header, " ci_high"));
    }
    if (paper.has_delta) {
      table.header.push_back(absl::StrCat(
          header, column.delta == DeltaKind::kRelative ? " delta (%)" : " delta"));
      if (paper.has_ci) {
        for (const char* name : {" delta_ci_low", " delta_ci_high", " p_value"}) {
          table.header.push_back(absl::StrCat(header, name));
        }
      }
    }
  }
  // As a plain number: no sign, no percent sign, "-" for none.
  auto plain = [](std::string text) {
    if (!text.empty() && text.back() == '%') text.pop_back();
    if (!text.empty() && text.front() == '+') text.erase(0, 1);
    return text.empty() ? std::string("-") : text;
  };
  for (size_t r = 0; r < paper.row_labels.size(); ++r) {
    std::vector<std::string> line = paper.row_labels[r];
    for (const PaperCell& cell : paper.cells[r]) {
      std::string text = cell.present ? cell.value : "-";
      if (!cell.spread.empty()) absl::StrAppend(&text, " ±", cell.spread);
      line.push_back(std::move(text));
      if (paper.has_ci) {
        line.push_back(plain(cell.ci_low));
        line.push_back(plain(cell.ci_high));
      }
      if (!paper.has_delta) continue;
      line.push_back(plain(cell.delta));
      if (paper.has_ci) {
        line.push_back(plain(cell.delta_ci_low));
        line.push_back(plain(cell.delta_ci_high));
        line.push_back(plain(cell.p_value));
      }
    }
    table.rows.push_back(std::move(line));
  }
  return table;
}

}  // namespace llmq
