#include <gtest/gtest.h>

#include "eval/task.h"
#include "eval/task_test_util.h"
#include "model/loader.h"

namespace llmq {
namespace {

class EfficiencyTaskTest : public Stories260kTaskTest {};

std::map<std::string, MetricValue> ByName(const TaskOutput& out) {
  std::map<std::string, MetricValue> m;
  for (const auto& metric : out.metrics) m[metric.name] = metric;
  return m;
}

TEST_F(EfficiencyTaskTest, ReportsLatencyThroughputAndMemoryWithUnits) {
  Params params = {{"prompt_lengths", "16,128,4096"}, {"decode_tokens", "8"}, {"batch_sizes", "1,4"}};
  auto out = RunTask("efficiency", params, context_);
  ASSERT_TRUE(out.ok()) << out.status();
  auto m = ByName(*out);
  // 4096 exceeds stories260K's 512 positions: capped, not failed.
  for (const char* name : {"prefill_ms_16", "prefill_ms_128", "prefill_ms_512", "decode_ms_p50",
                           "decode_ms_p95", "throughput_b1", "throughput_b4", "peak_rss_bytes"}) {
    ASSERT_TRUE(m.count(name)) << name;
    EXPECT_GT(m[name].value, 0) << name;
  }
  EXPECT_EQ(m["prefill_ms_16"].unit, "ms");
  EXPECT_EQ(m["throughput_b4"].unit, "tokens/s");
  EXPECT_EQ(m["peak_rss_bytes"].unit, "bytes");
  EXPECT_LE(m["decode_ms_p50"].value, m["decode_ms_p95"].value);
  EXPECT_EQ(out->provenance.at("efficiency.prompt_lengths"), "16,128,512");
}

TEST_F(EfficiencyTaskTest, BadParametersAreErrors) {
  auto out = RunTask("efficiency", {{"prompt_lengths", "12,abc"}}, context_);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("prompt_lengths"), std::string::npos);
}

}  // namespace
}  // namespace llmq
