#include "report/latex_table.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmq {
namespace {

// A number as text mode prints it: a real minus sign rather than a hyphen.
std::string LatexNumber(absl::string_view number) {
  if (!number.empty() && number[0] == '-') return absl::StrCat("$-$", EscapeLatex(number.substr(1)));
  return EscapeLatex(number);
}

std::string Cell(const PaperCell& cell) {
  if (!cell.present) return "--";
  std::string text = LatexNumber(cell.value);
  if (cell.best) text = absl::StrCat("\\textbf{", text, "}");
  if (!cell.spread.empty()) absl::StrAppend(&text, " $\\pm$ ", EscapeLatex(cell.spread));
  if (!cell.delta.empty()) {
    absl::StrAppend(&text, " {\\footnotesize (", LatexNumber(cell.delta), ")}");
  }
  return text;
}

std::string Line(const std::vector<std::string>& cells) {
  return absl::StrCat(absl::StrJoin(cells, " & "), " \\\\\n");
}

}  // namespace

std::string EscapeLatex(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\': out += "\\textbackslash{}"; continue;
      case '{': case '}': case '$': case '&': case '%': case '#': case '_':
        out += '\\';
        out += c;
        continue;
      case '^': out += "\\textasciicircum{}"; continue;
      case '~': out += "\\textasciitilde{}"; continue;
      case '<': out += "\\textless{}"; continue;
      case '>': out += "\\textgreater{}"; continue;
      case '|': out += "\\textbar{}"; continue;
      default: break;
    }
    // UTF-8 signs the default pdflatex setup cannot print in text mode.
    static constexpr struct {
      const char* utf8;
      const char* latex;
    } kSigns[] = {{"\xC2\xB1", "$\\pm$"}, {"\xCE\x94", "$\\Delta$"}, {"\xE2\x88\x92", "$-$"}};
    bool replaced = false;
    for (const auto& sign : kSigns) {
      const absl::string_view utf8(sign.utf8);
      if (text.substr(i, utf8.size()) == utf8) {
        out += sign.latex;
        i += utf8.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

std::string RenderLatex(const PaperTable& table) {
  const size_t labels = table.row_header.size();
  std::string spec(labels, 'l');
  spec.append(table.columns.size(), 'r');
  std::string out = "% llmq-coord results --format=latex; needs \\usepackage{booktabs}\n";
  absl::StrAppend(&out, "\\begin{tabular}{", spec, "}\n\\toprule\n");

  // Column groups: runs of adjacent columns with the same group label.
  struct Span {
    std::string label;
    size_t first, count;
  };
  std::vector<Span> spans;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const std::string label = absl::StrJoin(table.columns[c].group, " ");
    if (!spans.empty() && spans.back().label == label) {
      ++spans.back().count;
    } else {
      spans.push_back({label, c, 1});
    }
  }
  bool any_group = false;
  for (const Span& span : spans) any_group |= !span.label.empty();
  if (any_group) {
    std::vector<std::string> cells(labels, "");
    std::string rules;
    for (const Span& span : spans) {
      cells.push_back(absl::StrCat("\\multicolumn{", span.count, "}{c}{", EscapeLatex(span.label),
                                   "}"));
      if (span.label.empty()) continue;
      const size_t from = labels + span.first + 1;  // LaTeX counts columns from 1
      absl::StrAppend(&rules, "\\cmidrule(lr){", from, "-", from + span.count - 1, "}");
    }
    absl::StrAppend(&out, Line(cells), rules, rules.empty() ? "" : "\n");
  }
  std::vector<std::string> header;
  for (const std::string& name : table.row_header) header.push_back(EscapeLatex(name));
  for (const PaperColumn& column : table.columns) header.push_back(EscapeLatex(column.label));
  absl::StrAppend(&out, Line(header), "\\midrule\n");

  for (size_t r = 0; r < table.row_labels.size(); ++r) {
    if (r > 0 && labels > 1 && table.row_labels[r][0] != table.row_labels[r - 1][0]) {
      out += "\\midrule\n";
    }
    std::vector<std::string> cells;
    for (const std::string& label : table.row_labels[r]) {
      cells.push_back(label == "-" ? "--" : EscapeLatex(label));
    }
    for (const PaperCell& cell : table.cells[r]) cells.push_back(Cell(cell));
    out += Line(cells);
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  return out;
}

}  // namespace llmq
