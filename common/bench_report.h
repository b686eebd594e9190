// Benchmark figures, each judged against a baseline measured in the same run: binaries
// behind scripts/bench print them as text for people, or (--json) one JSON object per line
//   {"bench", "metric", "value", "unit", "baseline", "ratio", "goal"}
// where ratio = speed / baseline speed (> 1: faster than the baseline; for a bandwidth
// baseline, the fraction of it reached) and goal is the least ratio the figure should
// reach (null when it has none).
#ifndef LLMQ_COMMON_BENCH_REPORT_H_
#define LLMQ_COMMON_BENCH_REPORT_H_

#include <cstdio>
#include <optional>
#include <string>

namespace llmq {

struct BenchMetric {
  std::string bench;     // "linear", "model", ...
  std::string metric;    // "int4_g128_fp32/rows=1"
  double value = 0;      // in `unit`
  std::string unit;      // "us", "GB/s", "tokens/s"
  std::string baseline;  // what ratio is against, with its value: "dense_fp32_best 812.3 us"
  double ratio = 0;
  std::optional<double> goal;
};

class BenchReporter {
 public:
  // json: JSON lines on `out`; else one text line per metric.
  explicit BenchReporter(bool json, std::FILE* out = stdout) : json_(json), out_(out) {}
  void Add(const BenchMetric& m);
  // Text mode only: a line of context (baselines, settings); JSON mode prints it to stderr.
  void Note(const std::string& line);
  bool json() const { return json_; }

 private:
  bool json_;
  std::FILE* out_;
};

}  // namespace llmq

#endif  // LLMQ_COMMON_BENCH_REPORT_H_
