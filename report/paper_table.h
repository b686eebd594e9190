// A pivot (results_pivot.h) formatted for a paper: each column in a readable unit
// ("weight (MB)"), numbers rounded, the best value of each column marked, and the change
// against the unquantized baseline (--delta). Rendered as Markdown, CSV and JSON through
// Table (table_format.h) and as LaTeX (latex_table.h).
//
// Rounding, which every format shares: a value is divided by its column's unit (bytes to
// kB/MB/GB, 10^3 each) and shown with `precision` significant digits, except that integer
// digits are never cut (a value with at least `precision` of them, or an exact integer,
// prints as a whole number: 1048576, 12346). A standard deviation over repeats gets two
// significant digits. --delta shows, per the metric catalog, either the change in percent of
// the baseline with one decimal ("+6.8%": ppl, latency, bytes, throughput) or the difference
// in the column's unit, to the last of `precision` significant digits of the larger of the
// two values ("-0.0500" for 0.7 against 0.75: accuracy, exact match, nDCG, MRR, bits per
// weight). Baseline rows and cells without a baseline show none.
//
// Best value: the lowest or highest mean per the metric's direction among the rows of the
// same model (and of every other row coordinate that is not the method's), leaving out the
// baseline (the reference, not a contender), when at least two such rows have a value;
// every cell that rounds to the same text is marked, unless all of them do. Metrics with no
// direction (counts) mark nothing.
//
// --ci: an interval prints as the value does ("[4.21, 4.55]"); a paired change's interval as
// its delta does ("[+2.1%, +11.0%]", "[-0.1400, -0.0200]"), with its p-value ("p=0.003",
// "p<0.001" when no resample of 1,000 crossed 0) and "*" when the interval excludes 0.
#ifndef LLMQ_REPORT_PAPER_TABLE_H_
#define LLMQ_REPORT_PAPER_TABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "report/metric_catalog.h"
#include "report/results_pivot.h"
#include "report/table_format.h"

namespace llmq {

struct PaperCell {
  bool present = false;  // false: no result ("-")
  std::string value;     // the mean, rounded, in the column's unit
  std::string spread;    // standard deviation over repeats; "" for a single result
  std::string delta;     // "+6.8%", "-0.0123"; "" for none
  bool best = false;
  // --ci: the value's interval in the column's unit; "" for none.
  std::string ci_low, ci_high;
  // --ci --delta: the paired change's interval, as `delta` is written, and its p-value.
  std::string delta_ci_low, delta_ci_high, p_value;
  bool significant = false;  // the paired interval excludes 0
};

struct PaperColumn {
  std::vector<std::string> group;  // column group label parts: {"ppl", "dataset=wikitext2"}
  std::string label;               // metric label with unit: "weight (MB)"
  DeltaKind delta = DeltaKind::kAbsolute;
};

struct PaperTable {
  std::vector<std::string> row_header;               // coordinate names
  std::vector<std::vector<std::string>> row_labels;  // their values, per row
  std::vector<PaperColumn> columns;
  std::vector<std::vector<PaperCell>> cells;  // [row][column]
  bool has_delta = false;                     // --delta was asked for
  bool has_ci = false;                        // --ci was asked for
};

PaperTable FormatPivot(const Pivot& pivot, const PivotOptions& options);

// `precision` significant digits, integer digits never cut (see above).
std::string FormatNumber(double value, int precision);

// "ppl", "gsm8k EM strict", "ppl dataset=wikitext2": the group, then the metric's label
// unless the group already says it.
std::string FlatHeader(const PaperColumn& column);

// For Markdown: bold best ("**4.388**"), " ±0.12" over repeats, " [4.21, 4.55]" with
// --ci, Δ in parentheses ("4.388 (+6.8%)", with --ci "(+6.8% [+2.1%, +11.0%] p=0.003 *)").
Table ToMarkupTable(const PaperTable& table);

// For CSV and JSON: cells hold only the rounded value (and " ±std"); Δ gets its own column
// after each value column, "<header> delta (%)" or "<header> delta", as a plain number.
// --ci adds "<header> ci_low" and "<header> ci_high" after the value, and with --delta
// "<header> delta_ci_low", "<header> delta_ci_high" (in the delta's unit) and
// "<header> p_value" after the delta.
Table ToPlainTable(const PaperTable& table);

}  // namespace llmq

#endif  // LLMQ_REPORT_PAPER_TABLE_H_
