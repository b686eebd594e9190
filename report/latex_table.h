// A paper table as a LaTeX booktabs tabular: \toprule / \midrule / \bottomrule, a
// \multicolumn header per column group (a task and the task parameters that vary) with a
// \cmidrule under it, metric labels with units below, row coordinates left-aligned and
// values right-aligned, the best value of a column in \textbf, Δ in parentheses in a smaller
// font, and a \midrule wherever the first row coordinate (the model) changes. Text is
// escaped, so model names like "llama_3.2-1b" are safe. Needs \usepackage{booktabs}.
#ifndef LLMQ_REPORT_LATEX_TABLE_H_
#define LLMQ_REPORT_LATEX_TABLE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "report/paper_table.h"

namespace llmq {

// Escapes LaTeX's special characters (\ { } $ & % # _ ^ ~) and a few Unicode signs pdflatex
// lacks by default (±, Δ, −) so that `text` prints as itself in text mode.
std::string EscapeLatex(absl::string_view text);

std::string RenderLatex(const PaperTable& table);

}  // namespace llmq

#endif  // LLMQ_REPORT_LATEX_TABLE_H_
