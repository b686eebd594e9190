#include "report/table_format.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(TableFormatTest, HtmlEscapesEveryCellAndHeader) {
  Table table;
  table.header = {"model <b>", "ppl"};
  table.rows = {{"<script>alert(\"x\")</script> & 'y'", "4.25"}};
  const std::string html = RenderHtml(table);
  EXPECT_FALSE(absl::StrContains(html, "<script>")) << html;
  EXPECT_FALSE(absl::StrContains(html, "<b>")) << html;
  EXPECT_TRUE(absl::StrContains(
      html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"))
      << html;
  EXPECT_TRUE(absl::StrContains(html, "<th>model &lt;b&gt;</th>")) << html;
}

TEST(TableFormatTest, HtmlBoldsMarkdownBoldAndRightAlignsNumbers) {
  Table table;
  table.header = {"method", "ppl"};
  table.rows = {{"rtn", "**4.39** (+2.1%)"}, {"none", "4.3"}};
  const std::string html = RenderHtml(table);
  EXPECT_TRUE(absl::StrContains(html, "<td class=\"num\"><strong>4.39</strong> (+2.1%)</td>"))
      << html;
  EXPECT_TRUE(absl::StrContains(html, "<td>rtn</td>")) << html;
  EXPECT_TRUE(absl::StrContains(html, "<th class=\"num\">ppl</th>")) << html;
  EXPECT_EQ(RenderTable(table, "html").value(), html);
}

}  // namespace
}  // namespace llmq
