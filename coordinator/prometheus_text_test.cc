#include "coordinator/prometheus_text.h"

#include <cmath>

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(PrometheusTextTest, ValuesInTheFewestDigitsThatReadBack) {
  EXPECT_EQ(FormatPrometheusValue(12), "12");
  EXPECT_EQ(FormatPrometheusValue(0.1), "0.1");
  EXPECT_EQ(FormatPrometheusValue(0.0005), "0.0005");
  EXPECT_EQ(FormatPrometheusValue(1.0 / 3), "0.3333333333333333");  // 16 digits read back
  EXPECT_EQ(FormatPrometheusValue(0.1 + 0.2), "0.30000000000000004");  // only 17 do
  EXPECT_EQ(FormatPrometheusValue(1e300), "1e+300");
  EXPECT_EQ(FormatPrometheusValue(HUGE_VAL), "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-HUGE_VAL), "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndHelp) {
  PrometheusText out;
  out.Family("x", "gauge", "a \\ b\nc \"q\"");
  out.Sample("x", {{"path", "C:\\dir \"q\"\nnext"}}, 1);
  EXPECT_EQ(out.text(),
            "# HELP x a \\\\ b\\nc \"q\"\n"
            "# TYPE x gauge\n"
            "x{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n");
}

TEST(PrometheusTextTest, HistogramsAreCumulativeWithInfSumAndCount) {
  Histogram histogram({0.5, 2});
  for (double v : {0.1, 1.0, 1.5, 9.0}) histogram.Observe(v);
  PrometheusText out;
  out.Histogram("h_seconds", "h", histogram.Read());
  EXPECT_EQ(out.text(),
            "# HELP h_seconds h\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.5\"} 1\n"
            "h_seconds_bucket{le=\"2\"} 3\n"
            "h_seconds_bucket{le=\"+Inf\"} 4\n"
            "h_seconds_sum 11.6\n"
            "h_seconds_count 4\n");
}

}  // namespace
}  // namespace llmq
