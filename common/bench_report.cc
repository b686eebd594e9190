#include "common/bench_report.h"

#include <nlohmann/json.hpp>

namespace llmq {

void BenchReporter::Add(const BenchMetric& m) {
  if (json_) {
    nlohmann::json j = {{"bench", m.bench}, {"metric", m.metric}, {"value", m.value},
                        {"unit", m.unit},   {"baseline", m.baseline}, {"ratio", m.ratio}};
    j["goal"] = m.goal ? nlohmann::json(*m.goal) : nlohmann::json(nullptr);
    std::fprintf(out_, "%s\n", j.dump().c_str());
  } else {
    std::string verdict;
    if (m.goal) verdict = m.ratio >= *m.goal ? "  (goal >= " : "  (MISSES goal >= ";
    std::fprintf(out_, "  %-36s %10.2f %-9s %6.2fx %s%s%s\n", m.metric.c_str(), m.value,
                 m.unit.c_str(), m.ratio, m.baseline.c_str(), verdict.c_str(),
                 m.goal ? (std::to_string(*m.goal).substr(0, 4) + ")").c_str() : "");
  }
  std::fflush(out_);
}

void BenchReporter::Note(const std::string& line) {
  std::fprintf(json_ ? stderr : out_, "%s\n", line.c_str());
  std::fflush(json_ ? stderr : out_);
}

}  // namespace llmq
