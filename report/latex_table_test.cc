#include "report/latex_table.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "report/results_test_util.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(CoordLatexTableTest, EscapesEverySpecialCharacter) {
  EXPECT_EQ(EscapeLatex("llama_3.2-1b & 50% #1 $x$ {y} ~a^b \\c"),
            "llama\\_3.2-1b \\& 50\\% \\#1 \\$x\\$ \\{y\\} \\textasciitilde{}a\\textasciicircum{}b "
            "\\textbackslash{}c");
  EXPECT_EQ(EscapeLatex("a<b>c|d"), "a\\textless{}b\\textgreater{}c\\textbar{}d");
  EXPECT_EQ(EscapeLatex("12 \xC2\xB1" "2, \xCE\x94 ppl"), "12 $\\pm$2, $\\Delta$ ppl");
  EXPECT_EQ(EscapeLatex("plain text 1.5"), "plain text 1.5");
}

// Two models; gsm8k (two metrics) and ppl as column groups; a Δ and a repeat spread.
PaperTable SeedLikeTable(bool delta) {
  std::vector<TestResult> results = {
      Result("none", {}, {{"exact_match_strict", 0.25, ""}, {"exact_match_flexible", 0.5, ""}}, "gsm8k"),
      Result("none", {}, {{"ppl", 10, ""}}, "ppl"),
      Result("rtn", {{"group_size", "16"}}, {{"exact_match_strict", 0.2, ""}, {"exact_match_flexible", 0.3, ""}}, "gsm8k"),
      Result("rtn", {{"group_size", "16"}}, {{"ppl", 11, ""}}, "ppl"),
      Result("rtn", {{"group_size", "64"}}, {{"exact_match_strict", 0.1, ""}, {"exact_match_flexible", 0.4, ""}}, "gsm8k"),
      Result("rtn", {{"group_size", "64"}}, {{"ppl", 12.5, ""}}, "ppl"),
      OnModel(Result("gsq_x", {{"group_size", "16"}}, {{"ppl", 30, ""}}, "ppl"), "qwen_0.5b"),
  };
  TestResult repeat = OnModel(Result("gsq_x", {{"group_size", "16"}}, {{"ppl", 32, ""}}, "ppl"), "qwen_0.5b");
  repeat.repeat = 1;
  results.push_back(repeat);
  PivotOptions options;
  options.delta = delta;
  return FormatPivot(PivotMetrics(MakeResultRows(results), options), options);
}

TEST(CoordLatexTableTest, BooktabsWithTaskGroupsBoldBestAndDelta) {
  EXPECT_EQ(RenderLatex(SeedLikeTable(/*delta=*/true)),
            "% llmq-coord results --format=latex; needs \\usepackage{booktabs}\n"
            "\\begin{tabular}{lllrrr}\n"
            "\\toprule\n"
            " &  &  & \\multicolumn{2}{c}{gsm8k} & \\multicolumn{1}{c}{ppl} \\\\\n"
            "\\cmidrule(lr){4-5}\\cmidrule(lr){6-6}\n"
            "model & method & group\\_size & EM strict & EM flexible & ppl \\\\\n"
            "\\midrule\n"
            "tiny & none & -- & 0.25 & 0.5 & 10 \\\\\n"
            "tiny & rtn & 16 & \\textbf{0.2} {\\footnotesize ($-$0.0500)} & 0.3 {\\footnotesize "
            "($-$0.2000)} & \\textbf{11} {\\footnotesize (+10.0\\%)} \\\\\n"
            "tiny & rtn & 64 & 0.1 {\\footnotesize ($-$0.1500)} & \\textbf{0.4} {\\footnotesize "
            "($-$0.1000)} & 12.5 {\\footnotesize (+25.0\\%)} \\\\\n"
            "\\midrule\n"
            "qwen\\_0.5b & gsq\\_x & 16 & -- & -- & 31 $\\pm$ 1.4 \\\\\n"
            "\\bottomrule\n"
            "\\end{tabular}\n");
}

bool HavePdflatex() { return std::system("command -v pdflatex >/dev/null 2>&1") == 0; }

TEST(CoordLatexTableTest, CompilesWithPdflatex) {
  if (!HavePdflatex()) {
    GTEST_SKIP() << "pdflatex is not installed; this test compiles the LaTeX table when it is "
                    "(Debian: apt-get install texlive-latex-base texlive-latex-recommended)";
  }
  const std::string dir = JoinPath(::testing::TempDir(), "llmq_latex_table_test");
  ASSERT_EQ(std::system(absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "'").c_str()), 0);
  const std::string document =
      absl::StrCat("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n",
                   RenderLatex(SeedLikeTable(/*delta=*/true)), "\n",
                   RenderLatex(SeedLikeTable(/*delta=*/false)), "\\end{document}\n");
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "table.tex"), document).ok());
  const int status = std::system(
      absl::StrCat("cd '", dir, "' && pdflatex -halt-on-error -interaction=nonstopmode table.tex "
                   ">pdflatex.log 2>&1")
          .c_str());
  EXPECT_EQ(status, 0) << ReadFile(JoinPath(dir, "pdflatex.log")).value_or("(no log)");
  EXPECT_TRUE(FileExists(JoinPath(dir, "table.pdf")));
}

}  // namespace
}  // namespace llmq
