#include "report/paper_table.h"

#include "report/results_table.h"
#include "report/results_test_util.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

std::vector<std::string> Header(const std::vector<TestResult>& results, PivotOptions options = {}) {
  return PivotResults(MakeResultRows(results), options).header;
}

TEST(CoordPaperTableTest, DefaultsToEachTasksHeadlineMetrics) {
  const std::vector<TestMetric> common = {{"weight_bytes", 2e6, "bytes"},
                                          {"bits_per_weight", 32, "bits/weight"},
                                          {"parameters", 5e5, ""},
                                          {"load_seconds", 0.1, "s"},
                                          {"peak_rss_bytes", 3e8, "bytes"}};
  auto with_common = [&](std::vector<TestMetric> metrics) {
    metrics.insert(metrics.end(), common.begin(), common.end());
    return metrics;
  };
  const std::vector<TestResult> results = {
      Result("none", {},
             with_common({{"ppl", 4.1, ""}, {"nll_per_token", 1.4, "nats"}, {"windows", 32, ""}}),
             "ppl"),
      Result("none", {}, with_common({{"accuracy", 0.6, ""}, {"n", 200, "examples"}}), "boolq"),
      Result("none", {},
             with_common({{"exact_match_strict", 0.1, ""}, {"exact_match_flexible", 0.2, ""},
                          {"n", 100, "examples"}}),
             "gsm8k"),
      Result("none", {},
             with_common({{"ndcg_at_10", 0.5, ""}, {"mrr_at_10", 0.4, ""},
                          {"ndcg_at_10_random_order", 0.3, ""}, {"n_queries", 20, "queries"}}),
             "msmarco"),
      Result("none", {},
             with_common({{"accuracy", 0.3, ""}, {"accuracy_norm", 0.35, ""}, {"n", 9, ""}}), "mc"),
      Result("none", {},
             with_common({{"prefill_ms_64", 2, "ms"}, {"prefill_tokens_per_s_64", 32000, "tokens/s"},
                          {"prefill_ms_256", 7, "ms"}, {"prefill_tokens_per_s_256", 36571, "tokens/s"},
                          {"throughput_b1", 900, "tokens/s"}, {"decode_ms_p50", 1.1, "ms"},
                          {"decode_ms_p95", 1.5, "ms"}, {"throughput_b8", 5000, "tokens/s"}}),
             "efficiency"),
  };
  EXPECT_EQ(Header(results),
            (std::vector<std::string>{
                "model", "method", "ppl", "boolq acc", "gsm8k EM strict", "gsm8k EM flexible",
                "msmarco nDCG@10", "msmarco MRR@10", "mc acc", "mc acc_norm",
                "efficiency prefill 64 (ms)", "efficiency prefill 256 (ms)",
                "efficiency decode p50 (ms)", "efficiency throughput b1 (tok/s)",
                "efficiency throughput b8 (tok/s)", "efficiency weight (MB)",
                "efficiency peak RSS (MB)", "efficiency bits/weight"}));
  PivotOptions all;
  all.metrics = {"all"};
  size_t metrics = 0;
  for (const TestResult& r : results) metrics += r.metrics.size();
  EXPECT_EQ(Header(results, all).size(), 2 + metrics);  // every metric of every task
  PivotOptions chosen;
  chosen.metrics = {"windows", "ppl"};
  EXPECT_EQ(Header(results, chosen),
            (std::vector<std::string>{"model", "method", "ppl windows", "ppl"}));
}

TEST(CoordPaperTableTest, TaskParametersMakeColumnGroupsOnlyWhenTheyVaryWithinATask) {
  // limit differs between ppl and boolq, but each task has one: "boolq acc", not
  // "boolq limit=64 acc". The ppl dataset does vary.
  const std::vector<TestResult> results = {
      WithTaskParams(Result("none", {}, {{"ppl", 4, ""}}), {{"limit", "16"}, {"dataset", "a"}}),
      WithTaskParams(Result("none", {}, {{"ppl", 5, ""}}), {{"limit", "16"}, {"dataset", "b"}}),
      WithTaskParams(Result("none", {}, {{"accuracy", 0.5, ""}}, "boolq"), {{"limit", "64"}})};
  EXPECT_EQ(Header(results),
            (std::vector<std::string>{"model", "method", "ppl dataset=a", "ppl dataset=b", "boolq acc"}));
}

TEST(CoordPaperTableTest, BytesInHumanUnitsAndUnitsInHeaders) {
  const std::vector<TestResult> results = {
      Result("none", {},
             {{"weight_bytes", 1040128, "bytes"}, {"disk_bytes", 2.5e9, "bytes"},
              {"block_linear_bytes", 999, "bytes"}, {"decode_ms_p50", 1.23456, "ms"},
              {"throughput_b1", 812.345, "tokens/s"}, {"custom", 3, "widgets"}}),
      Result("rtn", {},
             {{"weight_bytes", 300000, "bytes"}, {"disk_bytes", 0.5e9, "bytes"},
              {"block_linear_bytes", 12, "bytes"}, {"decode_ms_p50", 1.5, "ms"},
              {"throughput_b1", 700, "tokens/s"}, {"custom", 4, "widgets"}}),
  };
  PivotOptions options;
  options.metrics = {"all"};
  options.columns = {"task"};
  options.mark_best = false;
  Table table = PivotResults(MakeResultRows(results), options);
  EXPECT_EQ(table.header, (std::vector<std::string>{"model", "method", "ppl weight (MB)",
                                                    "ppl disk (GB)", "ppl linear weights (B)",
                                                    "ppl decode p50 (ms)", "ppl throughput b1 (tok/s)",
                                                    "ppl custom (widgets)"}));
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"tiny", "none", "1.04", "2.5", "999", "1.235",
                                                     "812.3", "3"}));
  EXPECT_EQ(table.rows[1],
            (std::vector<std::string>{"tiny", "rtn", "0.3", "0.5", "12", "1.5", "700", "4"}));
}

TEST(CoordPaperTableTest, FormatNumberKeepsIntegerDigitsAndRoundsTheRest) {
  EXPECT_EQ(FormatNumber(4.38849, 4), "4.388");
  EXPECT_EQ(FormatNumber(4.38851, 4), "4.389");
  EXPECT_EQ(FormatNumber(1040128, 4), "1040128");  // an exact count, in full
  EXPECT_EQ(FormatNumber(12345.6, 4), "12346");    // integer digits are never cut
  EXPECT_EQ(FormatNumber(999.96, 4), "1000");
  EXPECT_EQ(FormatNumber(0.5, 4), "0.5");
  EXPECT_EQ(FormatNumber(0.0123456, 3), "0.0123");
  EXPECT_EQ(FormatNumber(-2.5, 4), "-2.5");
}

// Rows: none, rtn 4-bit, rtn 3-bit, gptq 4-bit.
std::vector<TestResult> FourMethods(const std::vector<std::vector<TestMetric>>& metrics) {
  return {Result("none", {}, metrics[0]), Result("rtn", {{"bits", "4"}}, metrics[1]),
          Result("rtn", {{"bits", "3"}}, metrics[2]), Result("gptq", {{"bits", "4"}}, metrics[3])};
}

TEST(CoordPaperTableTest, BestValueInBoldFollowsEachMetricsDirection) {
  const auto results = FourMethods({
      {{"ppl", 4.0, ""}, {"accuracy", 0.9, ""}, {"decode_ms_p50", 1, "ms"}, {"n", 10, ""}},
      {{"ppl", 4.5, ""}, {"accuracy", 0.7, ""}, {"decode_ms_p50", 3, "ms"}, {"n", 30, ""}},
      {{"ppl", 6.0, ""}, {"accuracy", 0.8, ""}, {"decode_ms_p50", 2, "ms"}, {"n", 20, ""}},
      {{"ppl", 4.50001, ""}, {"accuracy", 0.6, ""}, {"decode_ms_p50", 2.5, "ms"}, {"n", 40, ""}},
  });
  PivotOptions options;
  options.metrics = {"ppl", "accuracy", "decode_ms_p50", "n"};
  Table table = PivotResults(MakeResultRows(results), options);
  ASSERT_EQ(table.header, (std::vector<std::string>{"model", "method", "bits", "ppl", "ppl acc",
                                                    "ppl decode p50 (ms)", "ppl n"}));
  // The baseline (best ppl, accuracy and latency) is the reference, never bold. Lower ppl:
  // rtn-4 and gptq-4 tie at four digits, both bold. Higher accuracy: rtn-3. Lower latency:
  // rtn-3. Counts have no direction.
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"tiny", "none", "-", "4", "0.9", "1", "10"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "rtn", "4", "**4.5**", "0.7", "3", "30"}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"tiny", "rtn", "3", "6", "**0.8**", "**2**", "20"}));
  EXPECT_EQ(table.rows[3], (std::vector<std::string>{"tiny", "gptq", "4", "**4.5**", "0.6", "2.5", "40"}));
  options.mark_best = false;
  EXPECT_EQ(PivotResults(MakeResultRows(results), options).rows[1][3], "4.5");
}

TEST(CoordPaperTableTest, EachModelHasItsOwnBest) {
  const std::vector<TestResult> results = {
      Result("rtn", {}, {{"ppl", 5, ""}}), Result("gptq", {}, {{"ppl", 4.5, ""}}),
      OnModel(Result("rtn", {}, {{"ppl", 9, ""}}), "big"),
      OnModel(Result("gptq", {}, {{"ppl", 9.5, ""}}), "big")};
  Table table = PivotResults(MakeResultRows(results), PivotOptions());
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"tiny", "rtn", "5"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "gptq", "**4.5**"}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"big", "rtn", "**9**"}));
  EXPECT_EQ(table.rows[3], (std::vector<std::string>{"big", "gptq", "9.5"}));
}

TEST(CoordPaperTableTest, ALoneContenderOrAllTiedAreNotBold) {
  const std::vector<TestResult> results = {
      Result("none", {}, {{"ppl", 4, ""}, {"bits_per_weight", 32, ""}}),
      Result("rtn", {}, {{"ppl", 5, ""}, {"bits_per_weight", 32, ""}}),
      Result("gptq", {}, {{"bits_per_weight", 32, ""}}),
  };
  PivotOptions options;
  options.metrics = {"ppl", "bits_per_weight"};
  Table table = PivotResults(MakeResultRows(results), options);
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "rtn", "5", "32"}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"tiny", "gptq", "-", "32"}));
}

TEST(CoordPaperTableTest, DeltaAgainstTheBaselineOfTheSameModelAndTask) {
  std::vector<TestResult> results = FourMethods({
      {{"ppl", 10, ""}, {"accuracy", 0.75, ""}, {"bits_per_weight", 32, ""}, {"weight_bytes", 1e6, "bytes"}},
      {{"ppl", 12.5, ""}, {"accuracy", 0.7, ""}, {"bits_per_weight", 4.25, ""}, {"weight_bytes", 2.5e5, "bytes"}},
      {{"ppl", 9, ""}, {"accuracy", 0.8, ""}, {"bits_per_weight", 3.25, ""}, {"weight_bytes", 2e5, "bytes"}},
      {{"ppl", 10, ""}, {"accuracy", 0.75, ""}, {"bits_per_weight", 4.5, ""}, {"weight_bytes", 2.6e5, "bytes"}},
  });
  // Another model without a baseline: no Δ.
  results.push_back(OnModel(Result("rtn", {{"bits", "4"}},
                                   {{"ppl", 20, ""}, {"accuracy", 0.5, ""},
                                    {"bits_per_weight", 4.25, ""}, {"weight_bytes", 2.5e5, "bytes"}}),
                            "other"));
  PivotOptions options;
  options.metrics = {"ppl", "accuracy", "bits_per_weight", "weight_bytes"};
  options.delta = true;
  options.mark_best = false;
  Table table = PivotResults(MakeResultRows(results), options);
  // By hand: ppl relative, (12.5 / 10 - 1) = +25.0 %, (9 / 10 - 1) = -10.0 %; accuracy
  // absolute, 0.7 - 0.75 = -0.05 at four digits of 0.75 -> -0.0500; bits absolute,
  // 4.25 - 32 = -27.75; bytes relative, 0.25 / 1 - 1 = -75.0 %.
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"tiny", "none", "-", "10", "0.75", "32", "1"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "rtn", "4", "12.5 (+25.0%)", "0.7 (-0.0500)",
                                                     "4.25 (-27.75)", "0.25 (-75.0%)"}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"tiny", "rtn", "3", "9 (-10.0%)", "0.8 (+0.0500)",
                                                     "3.25 (-28.75)", "0.2 (-80.0%)"}));
  EXPECT_EQ(table.rows[3], (std::vector<std::string>{"tiny", "gptq", "4", "10 (+0.0%)", "0.75 (+0.0000)",
                                                     "4.5 (-27.50)", "0.26 (-74.0%)"}));
  EXPECT_EQ(table.rows[4], (std::vector<std::string>{"other", "rtn", "4", "20", "0.5", "4.25", "0.25"}));

  // CSV and JSON: Δ as a plain number in its own column.
  absl::StatusOr<std::string> csv = RenderResults(MakeResultRows(results), options, "csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->substr(0, csv->find("\r\n")),
            "model,method,bits,ppl,ppl delta (%),ppl acc,ppl acc delta,ppl bits/weight,"
            "ppl bits/weight delta,ppl weight (MB),ppl weight (MB) delta (%)");
  EXPECT_NE(csv->find("tiny,rtn,4,12.5,25.0,0.7,-0.0500,4.25,-27.75,0.25,-75.0\r\n"), std::string::npos)
      << *csv;
}

TEST(CoordPaperTableTest, DeltaMatchesTheBaselineOfTheSameTaskParameters) {
  const std::vector<TestResult> results = {
      WithTaskParams(Result("none", {}, {{"ppl", 20, ""}}), {{"dataset", "wikitext2"}}),
      WithTaskParams(Result("none", {}, {{"ppl", 30, ""}}), {{"dataset", "c4"}}),
      WithTaskParams(Result("rtn", {}, {{"ppl", 22, ""}}), {{"dataset", "wikitext2"}}),
      WithTaskParams(Result("rtn", {}, {{"ppl", 36, ""}}), {{"dataset", "c4"}}),
  };
  PivotOptions options;
  options.delta = true;
  Table table = PivotResults(MakeResultRows(results), options);
  EXPECT_EQ(table.header, (std::vector<std::string>{"model", "method", "ppl dataset=wikitext2",
                                                    "ppl dataset=c4"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"tiny", "rtn", "22 (+10.0%)", "36 (+20.0%)"}));
}

TEST(CoordPaperTableTest, DeltaFindsBaselinesAmongReferences) {
  const auto quantized = MakeResultRows({Result("rtn", {}, {{"ppl", 11, ""}})});
  const auto baseline = MakeResultRows({Result("none", {}, {{"ppl", 10, ""}})});
  PivotOptions options;
  options.delta = true;
  absl::StatusOr<std::string> text = RenderResults(quantized, options, "markdown", baseline);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("| tiny  | rtn    | 11 (+10.0%) |"), std::string::npos) << *text;
}

}  // namespace
}  // namespace llmq
