// Writes Prometheus' text exposition format (version 0.0.4): per metric family a "# HELP"
// and a "# TYPE" line, then its samples, `name{label="value"} number`. Label values and
// help text are escaped as the format says (\\, \" and \n); histograms are written as
// cumulative `_bucket{le=...}` samples ending in le="+Inf", then `_sum` and `_count`.
#ifndef LLMQ_COORDINATOR_PROMETHEUS_TEXT_H_
#define LLMQ_COORDINATOR_PROMETHEUS_TEXT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/histogram.h"

namespace llmq {

using PrometheusLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family; `type` is "counter", "gauge" or "histogram".
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // A sample of the current family (or, for histograms, of its _bucket/_sum/_count).
  void Sample(absl::string_view name, const PrometheusLabels& labels, double value);
  // A whole histogram family.
  void Histogram(absl::string_view name, absl::string_view help,
                 const Histogram::Snapshot& snapshot);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// "12", "0.25", "+Inf", "NaN": as Prometheus reads floats, in the fewest digits that
// read back as the same double.
std::string FormatPrometheusValue(double value);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_PROMETHEUS_TEXT_H_
