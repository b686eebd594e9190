#include "common/bench_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace llmq {
namespace {

std::string Captured(bool json, const BenchMetric& m) {
  std::FILE* f = std::tmpfile();
  BenchReporter r(json, f);
  r.Add(m);
  std::rewind(f);
  char buf[1024] = {0};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  return std::string(buf, n);
}

TEST(BenchReporterTest, JsonModePrintsOneObjectPerLineWithEveryField) {
  const std::string line =
      Captured(true, {"linear", "int4_g128_fp32/rows=1", 812.5, "us", "read_bandwidth 20.0 GB/s", 0.64, 0.6});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["bench"], "linear");
  EXPECT_EQ(j["metric"], "int4_g128_fp32/rows=1");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 812.5);
  EXPECT_EQ(j["unit"], "us");
  EXPECT_EQ(j["baseline"], "read_bandwidth 20.0 GB/s");
  EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.64);
  EXPECT_DOUBLE_EQ(j["goal"].get<double>(), 0.6);
  EXPECT_TRUE(nlohmann::json::parse(Captured(true, {"m", "x", 1, "s", "b", 1, std::nullopt}))["goal"].is_null());
}

TEST(BenchReporterTest, TextModeSaysWhetherTheGoalIsMet) {
  EXPECT_NE(Captured(false, {"linear", "a", 1, "us", "b", 0.5, 0.6}).find("MISSES goal"), std::string::npos);
  EXPECT_EQ(Captured(false, {"linear", "a", 1, "us", "b", 0.7, 0.6}).find("MISSES"), std::string::npos);
}

}  // namespace
}  // namespace llmq
