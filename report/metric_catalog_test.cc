#include "report/metric_catalog.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(CoordResultsMetricCatalogTest, NumberedFamiliesAndStagesGetReadableLabels) {
  MetricInfo info = DescribeMetric("prefill_ms_512");
  EXPECT_EQ(info.label, "prefill 512");
  EXPECT_EQ(info.unit, "ms");
  EXPECT_EQ(info.better, Better::kLower);
  EXPECT_EQ(info.delta, DeltaKind::kRelative);
  EXPECT_EQ(DescribeMetric("throughput_b8").label, "throughput b8");
  EXPECT_EQ(DescribeMetric("throughput_b8").better, Better::kHigher);
  EXPECT_EQ(DescribeMetric("ndcg_at_10").label, "nDCG@10");
  EXPECT_EQ(DescribeMetric("ndcg_at_10").delta, DeltaKind::kAbsolute);
  // The random-order control is a floor to beat, not a score.
  EXPECT_EQ(DescribeMetric("ndcg_at_10_random_order").better, Better::kNeither);
  EXPECT_EQ(DescribeMetric("quantize_seconds").label, "quantize time");
  EXPECT_EQ(DescribeMetric("quantize_seconds").unit, "s");
  // Not the quantize_* stage times: a peak in bytes, lower is better.
  info = DescribeMetric("quantize_peak_rss_bytes");
  EXPECT_EQ(info.label, "quantize peak RSS");
  EXPECT_EQ(info.unit, "bytes");
  EXPECT_EQ(info.better, Better::kLower);
  EXPECT_EQ(DescribeMetric("quantize_cuda_peak_reserved_bytes").unit, "bytes");
  info = DescribeMetric("widgets_made", "widgets");  // unknown: as stored, no direction
  EXPECT_EQ(info.label, "widgets_made");
  EXPECT_EQ(info.unit, "widgets");
  EXPECT_EQ(info.better, Better::kNeither);
}

TEST(CoordResultsMetricCatalogTest, EveryHeadlineMetricHasADirection) {
  const std::vector<std::string> available = {
      "ppl", "accuracy", "accuracy_norm", "exact_match_strict", "exact_match_flexible",
      "ndcg_at_10", "mrr_at_10", "prefill_ms_64", "decode_ms_p50", "throughput_b1",
      "weight_bytes", "peak_rss_bytes", "quantize_peak_rss_bytes", "bits_per_weight"};
  for (const char* task : {"ppl", "boolq", "gsm8k", "msmarco", "mc", "efficiency"}) {
    const std::vector<std::string> headline = HeadlineMetrics(task, available);
    EXPECT_FALSE(headline.empty()) << task;
    for (const std::string& metric : headline) {
      EXPECT_NE(DescribeMetric(metric).better, Better::kNeither) << task << " " << metric;
    }
  }
  EXPECT_EQ(HeadlineMetrics("msmarco", {"n_queries", "mrr_at_5", "ndcg_at_5", "ndcg_at_5_random_order"}),
            (std::vector<std::string>{"ndcg_at_5", "mrr_at_5"}));
  EXPECT_EQ(HeadlineMetrics("custom", {"b", "a"}), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(PlotMetric("gsm8k", {"n", "exact_match_flexible", "exact_match_strict"}),
            "exact_match_strict");
  EXPECT_EQ(PlotMetric("efficiency", available), "");
  // Serving and quantization peaks are separate columns of the efficiency table.
  EXPECT_EQ(HeadlineMetrics("efficiency", {"quantize_peak_rss_bytes", "peak_rss_bytes", "load_seconds"}),
            (std::vector<std::string>{"peak_rss_bytes", "quantize_peak_rss_bytes"}));
}

TEST(CoordResultsMetricCatalogTest, BytesInTheLargestDecimalUnitThatFits) {
  EXPECT_EQ(ChooseDisplayUnit("bytes", 999).label, "B");
  EXPECT_EQ(ChooseDisplayUnit("bytes", 1000).label, "kB");
  EXPECT_EQ(ChooseDisplayUnit("bytes", 1040128).label, "MB");
  EXPECT_EQ(ChooseDisplayUnit("bytes", 1040128).divisor, 1e6);
  EXPECT_EQ(ChooseDisplayUnit("bytes", 2.5e9).label, "GB");
  EXPECT_EQ(ChooseDisplayUnit("tokens/s", 5).label, "tok/s");
  EXPECT_EQ(ColumnLabel(DescribeMetric("weight_bytes"), ChooseDisplayUnit("bytes", 2e6)),
            "weight (MB)");
  EXPECT_EQ(ColumnLabel(DescribeMetric("ppl"), ChooseDisplayUnit("", 4)), "ppl");
}

}  // namespace
}  // namespace llmq
