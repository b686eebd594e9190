// A distribution of observed values (seconds, mostly) in fixed buckets, as Prometheus
// histograms count them: bucket i holds observations <= its upper bound and nothing
// above the previous bound; +Inf takes the rest. Cheap enough to observe on every lease
// and commit, and safe to observe and read from any thread.
#ifndef LLMQ_COMMON_HISTOGRAM_H_
#define LLMQ_COMMON_HISTOGRAM_H_

#include <cstdint>
#include <mutex>
#include <vector>

namespace llmq {

class Histogram {
 public:
  // `upper_bounds`: strictly increasing and finite (+Inf is implied).
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    // cumulative[i]: observations <= upper_bounds[i]; one more entry for +Inf (= count).
    std::vector<int64_t> cumulative;
    double sum = 0;
    int64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::vector<int64_t> counts_;  // per bucket, +Inf last; guarded by mu_
  double sum_ = 0;               // guarded by mu_
};

}  // namespace llmq

#endif  // LLMQ_COMMON_HISTOGRAM_H_
