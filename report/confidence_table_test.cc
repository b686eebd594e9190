// results --ci and --ci --delta: intervals beside values, paired differences on the same
// examples, and their CSV/JSON columns.
#include <cmath>

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "report/paired_delta.h"
#include "report/results_table.h"
#include "report/results_test_util.h"

namespace llmq {
namespace {

// A BoolQ result right on examples [0, right) of n, with per-example scores.
v1::ResultRow Boolq(const std::string& method, std::map<std::string, std::string> params,
                    int n, int right) {
  v1::ResultRow row = MakeResultRow(Result(method, std::move(params),
                                           {{"accuracy", static_cast<double>(right) / n, ""}}, "boolq"));
  v1::ExampleScores& scores = *row.mutable_result()->mutable_example_scores();
  v1::ScoreSeries& correct = *scores.add_series();
  correct.set_name("correct");
  correct.set_metric("accuracy");
  for (int i = 0; i < n; ++i) {
    scores.add_example_ids(i);
    correct.add_values(i < right ? 1.0 : 0.0);
  }
  return row;
}

nlohmann::json Json(const std::vector<v1::ResultRow>& rows, const PivotOptions& options) {
  absl::StatusOr<std::string> text = RenderResults(rows, options, "json");
  EXPECT_TRUE(text.ok()) << text.status();
  return nlohmann::json::parse(*text);
}

TEST(ConfidenceTableTest, PairedDeltaOfAConsistentLossExcludesZero) {
  // RTN loses 20 of the 100 questions fp32 got right and gains none: Δ = −0.1 exactly,
  // and no resample can favour RTN.
  const std::vector<v1::ResultRow> rows = {Boolq("none", {}, 200, 100),
                                           Boolq("rtn", {{"bits", "3"}}, 200, 80)};
  PivotOptions options;
  options.ci = true;
  options.delta = true;
  const nlohmann::json json = Json(rows, options);
  ASSERT_EQ(json.size(), 2u);
  const nlohmann::json& rtn = json[1];
  EXPECT_EQ(rtn["method"], "rtn");
  EXPECT_DOUBLE_EQ(rtn["boolq acc"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(rtn["boolq acc delta"].get<double>(), -0.1);
  EXPECT_LT(rtn["boolq acc delta_ci_low"].get<double>(), -0.1);
  EXPECT_LT(rtn["boolq acc delta_ci_high"].get<double>(), 0.0);
  EXPECT_GT(rtn["boolq acc delta_ci_high"].get<double>(), -0.1);
  EXPECT_EQ(rtn["boolq acc p_value"].get<double>(), 0.0);
  // Without a stored interval, the value has none; the baseline row has no delta.
  EXPECT_TRUE(rtn["boolq acc ci_low"].is_null());
  EXPECT_TRUE(json[0]["boolq acc delta_ci_low"].is_null());

  const std::string markdown = *RenderResults(rows, options, "markdown");
  EXPECT_NE(markdown.find("p<0.001 *)"), std::string::npos) << markdown;
}

TEST(ConfidenceTableTest, IdenticalResultsDifferByExactlyZeroWithPOne) {
  const std::vector<v1::ResultRow> rows = {Boolq("none", {}, 50, 30),
                                           Boolq("rtn", {{"bits", "8"}}, 50, 30)};
  PivotOptions options;
  options.ci = true;
  options.delta = true;
  const nlohmann::json json = Json(rows, options);
  EXPECT_EQ(json[1]["boolq acc delta"].get<double>(), 0.0);
  EXPECT_EQ(json[1]["boolq acc delta_ci_low"].get<double>(), 0.0);
  EXPECT_EQ(json[1]["boolq acc delta_ci_high"].get<double>(), 0.0);
  EXPECT_EQ(json[1]["boolq acc p_value"].get<double>(), 1.0);
  const std::string markdown = *RenderResults(rows, options, "markdown");
  EXPECT_NE(markdown.find("p=1)"), std::string::npos) << markdown;
  EXPECT_EQ(markdown.find(" *)"), std::string::npos) << markdown;
}

TEST(ConfidenceTableTest, PairsExamplesByIdNotByPosition) {
  // The same per-example outcomes listed in reverse order, plus one example the baseline
  // lacks: paired on the shared ids they are identical.
  v1::ResultRow base = Boolq("none", {}, 10, 4);
  v1::ResultRow other = Boolq("rtn", {{"bits", "4"}}, 10, 4);
  v1::ExampleScores& scores = *other.mutable_result()->mutable_example_scores();
  std::reverse(scores.mutable_example_ids()->begin(), scores.mutable_example_ids()->end());
  v1::ScoreSeries& correct = *scores.mutable_series(0);
  std::reverse(correct.mutable_values()->begin(), correct.mutable_values()->end());
  scores.add_example_ids(99);
  correct.add_values(1.0);
  const std::optional<PairedDelta> delta =
      PairedMetricDelta(other.result(), base.result(), "accuracy", DeltaScale::kDifference);
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ(delta->delta, 0.0);
  EXPECT_EQ(delta->p_value, 1.0);
  EXPECT_FALSE(PairedMetricDelta(other.result(), base.result(), "accuracy_norm",
                                 DeltaScale::kDifference).has_value());
}

TEST(ConfidenceTableTest, StoredIntervalPrintsBesideTheValue) {
  v1::ResultRow row = MakeResultRow(Result("none", {}, {{"ppl", 12.5, ""}}));
  v1::Metric& ppl = *row.mutable_result()->mutable_metrics(0);
  ppl.set_ci_low(11.75);
  ppl.set_ci_high(13.25);
  PivotOptions options;
  options.ci = true;
  EXPECT_NE(RenderResults({row}, options, "markdown")->find("12.5 [11.75, 13.25]"),
            std::string::npos);
  const nlohmann::json json = Json({row}, options);
  EXPECT_DOUBLE_EQ(json[0]["ppl ci_low"].get<double>(), 11.75);
  EXPECT_DOUBLE_EQ(json[0]["ppl ci_high"].get<double>(), 13.25);
  // Without --ci, no interval columns.
  EXPECT_FALSE(Json({row}, PivotOptions())[0].contains("ppl ci_low"));
}

TEST(ConfidenceTableTest, RepeatsShowMeanStdAndTheirTInterval) {
  TestResult first = Result("none", {}, {{"accuracy", 0.5, ""}}, "boolq");
  TestResult second = first;
  second.repeat = 1;
  second.metrics[0].value = 0.6;
  PivotOptions options;
  options.ci = true;
  const nlohmann::json json = Json(MakeResultRows({first, second}), options);
  // mean 0.55, s = 0.0707, n = 2: 0.55 ± 12.706 · 0.0707 / √2 = 0.55 ± 0.6353.
  const double half = 12.706 * std::sqrt(0.005) / std::sqrt(2.0);
  EXPECT_NEAR(json[0]["boolq acc ci_low"].get<double>(), 0.55 - half, 1e-3);
  EXPECT_NEAR(json[0]["boolq acc ci_high"].get<double>(), 0.55 + half, 1e-3);
  EXPECT_EQ(json[0]["boolq acc"], "0.55 ±0.071");
}

TEST(ConfidenceTableTest, PerplexityDeltaIsRelativeAndResamplesWindows) {
  // Two windows of 10 tokens; the quantized model's NLL is 10 % higher on each, so every
  // resample has ppl ratio exp(1.1 m) / exp(m) − 1 with m = that resample's mean NLL.
  auto ppl_row = [](const std::string& method, double scale) {
    v1::ResultRow row = MakeResultRow(Result(method, {}, {{"ppl", std::exp(2.5 * scale), ""}}));
    v1::ExampleScores& scores = *row.mutable_result()->mutable_example_scores();
    v1::ScoreSeries& nll = *scores.add_series();
    nll.set_metric("ppl");
    nll.set_transform("exp");
    for (int w = 0; w < 2; ++w) {
      scores.add_example_ids(w);
      nll.add_values((w == 0 ? 20.0 : 30.0) * scale);
      nll.add_weights(10);
    }
    return row;
  };
  const std::vector<v1::ResultRow> rows = {ppl_row("none", 1.0), ppl_row("rtn", 1.1)};
  PivotOptions options;
  options.ci = true;
  options.delta = true;
  const nlohmann::json json = Json(rows, options);
  // Mean NLL per resample is 2, 2.5 or 3: ratio − 1 = e^0.2 − 1 .. e^0.3 − 1, in percent.
  EXPECT_NEAR(json[1]["ppl delta (%)"].get<double>(), 100 * (std::exp(0.25) - 1), 0.05);
  EXPECT_GE(json[1]["ppl delta_ci_low"].get<double>(), 100 * (std::exp(0.2) - 1) - 0.05);
  EXPECT_LE(json[1]["ppl delta_ci_high"].get<double>(), 100 * (std::exp(0.3) - 1) + 0.05);
  EXPECT_EQ(json[1]["ppl p_value"].get<double>(), 0.0);
}

}  // namespace
}  // namespace llmq
