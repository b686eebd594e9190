#include "report/results_table.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

v1::ResultRow Result(const std::string& method, const std::string& bits, const std::string& task,
                     const std::string& dataset, int repeat,
                     std::vector<std::pair<std::string, double>> metrics) {
  v1::ResultRow row;
  v1::JobSpec& spec = *row.mutable_spec();
  spec.set_sweep_name("s");
  spec.mutable_model()->set_alias("tiny");
  spec.mutable_method()->set_name(method);
  if (!bits.empty()) (*spec.mutable_method()->mutable_params())["bits"] = bits;
  spec.mutable_task()->set_name(task);
  if (!dataset.empty()) (*spec.mutable_task()->mutable_params())["dataset"] = dataset;
  spec.set_repeat(repeat);
  for (const auto& [name, value] : metrics) {
    v1::Metric* metric = row.mutable_result()->add_metrics();
    metric->set_name(name);
    metric->set_value(value);
  }
  return row;
}

TEST(CoordResultsTableTest, RowsByMethodColumnsByTaskAndDataset) {
  std::vector<v1::ResultRow> results = {
      Result("none", "", "ppl", "wikitext2", 0, {{"ppl", 10}}),
      Result("none", "", "ppl", "tinystories", 0, {{"ppl", 5}}),
      Result("rtn", "4", "ppl", "wikitext2", 0, {{"ppl", 12}}),
      Result("rtn", "4", "boolq", "", 0, {{"accuracy", 0.5}}),
  };
  Table table = PivotResults(results, PivotOptions());
  EXPECT_EQ(table.header, (std::vector<std::string>{"model", "method", "ppl dataset=wikitext2",
                                                    "ppl dataset=tinystories", "boolq acc"}));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"tiny", "none", "10", "5", "-"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "rtn", "12", "-", "0.5"}));
}

TEST(CoordResultsTableTest, RepeatsAverageWithSampleStandardDeviation) {
  std::vector<v1::ResultRow> results = {
      Result("rtn", "4", "ppl", "", 0, {{"ppl", 10}}),
      Result("rtn", "4", "ppl", "", 1, {{"ppl", 12}}),
      Result("rtn", "4", "ppl", "", 2, {{"ppl", 14}}),
  };
  Table table = PivotResults(results, PivotOptions());
  ASSERT_EQ(table.rows.size(), 1u);
  // mean 12; sample variance ((-2)^2 + 0 + 2^2) / 2 = 4 -> std 2.
  EXPECT_EQ(table.rows[0].back(), "12 ±2");
}

TEST(CoordResultsTableTest, ChosenRowsColumnsAndMetrics) {
  std::vector<v1::ResultRow> results = {
      Result("rtn", "4", "ppl", "", 0, {{"ppl", 10}, {"latency_ms", 3}}),
      Result("rtn", "3", "ppl", "", 0, {{"ppl", 11.123456}, {"latency_ms", 2}}),
  };
  PivotOptions options;
  options.rows = {"bits"};
  options.columns = {"method"};
  options.metrics = {"ppl"};
  options.precision = 3;
  Table table = PivotResults(results, options);
  EXPECT_EQ(table.header, (std::vector<std::string>{"bits", "rtn ppl"}));
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"4", "**10**"}));  // lower ppl is better
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"3", "11.1"}));
}

TEST(CoordResultsTableTest, LongFormHasOneRowPerMetric) {
  std::vector<v1::ResultRow> results = {
      Result("rtn", "4", "ppl", "", 0, {{"ppl", 10}, {"latency_ms", 3}})};
  Table table = LongResults(results);
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.header[0], "job_id");
  const auto metric = std::find(table.header.begin(), table.header.end(), "metric");
  ASSERT_NE(metric, table.header.end());
  EXPECT_EQ(table.rows[1][metric - table.header.begin()], "latency_ms");
}

TEST(CoordTableFormatTest, MarkdownAlignsNumbersRightAndEscapesPipes) {
  Table table{{"name", "value"}, {{"a|b", "1.5"}, {"long name", "10"}}};
  EXPECT_EQ(RenderMarkdown(table),
            "| name      | value |\n"
            "|:----------|------:|\n"
            "| a\\|b      |   1.5 |\n"
            "| long name |    10 |\n");
}

TEST(CoordTableFormatTest, CsvQuotesAndJsonTypes) {
  Table table{{"name", "value"}, {{"a,\"b\"", "2"}, {"c", "-"}}};
  EXPECT_EQ(RenderCsv(table), "name,value\r\n\"a,\"\"b\"\"\",2\r\nc,-\r\n");
  EXPECT_EQ(RenderJson(table),
            "[\n  {\n    \"name\": \"a,\\\"b\\\"\",\n    \"value\": 2.0\n  },\n"
            "  {\n    \"name\": \"c\",\n    \"value\": null\n  }\n]\n");
  EXPECT_FALSE(RenderTable(table, "latex").ok());
}

}  // namespace
}  // namespace llmq
