// Percentile bootstrap intervals for metrics computed from per-example scores, and the
// paired bootstrap of the difference between two results on the same examples.
//
// A metric is a ratio statistic of its examples' scores: statistic = T(Σ v_i / Σ w_i),
// with w_i = 1 for a plain mean (accuracy, exact match, nDCG), or w_i = tokens of window i
// and T = exp for perplexity (exp of the token-weighted mean NLL, as the metric is
// defined, so long windows weigh more).
//
// One resample draws n indices uniformly with replacement, index = rng() % n with
// std::mt19937_64(seed) (written out, not std::uniform_int_distribution, whose algorithm
// the standard leaves to the library: the same seed gives the same interval everywhere).
// The interval is the 2.5th and 97.5th percentile of the resampled statistics, linearly
// interpolated between order statistics (numpy's default).
//
// Paired: each resample draws one set of indices and evaluates both samples on it, so
// what varies is the examples, not the pairing. The difference is a − b, or a / b − 1
// (relative). Two-sided p-value: 2 · min(share of resampled differences ≤ 0, share ≥ 0),
// capped at 1 — identical samples give differences of exactly 0 and p = 1.
#ifndef LLMQ_COMMON_BOOTSTRAP_H_
#define LLMQ_COMMON_BOOTSTRAP_H_

#include <cstdint>
#include <vector>

namespace llmq {

enum class ScoreTransform { kIdentity, kExp };

struct ScoreSample {
  std::vector<double> values;
  std::vector<double> weights;  // empty: every example weighs 1; else one per value
  ScoreTransform transform = ScoreTransform::kIdentity;
};

struct BootstrapOptions {
  int resamples = 1000;
  uint64_t seed = 20250101;
  double confidence = 0.95;
};

struct Interval {
  double low = 0;
  double high = 0;
};

// T(Σ v / Σ w) over all examples; NaN for an empty sample or zero total weight.
double SampleStatistic(const ScoreSample& sample);

// The percentile interval of the statistic. A sample of fewer than 2 examples gives
// [statistic, statistic].
Interval BootstrapInterval(const ScoreSample& sample, const BootstrapOptions& options = {});

enum class DeltaScale { kDifference, kRelative };

struct PairedDelta {
  double delta = 0;  // the statistic of a minus that of b (or a / b − 1), all examples
  Interval interval;
  double p_value = 1;
  // Whether the interval lies entirely on one side of 0.
  bool ExcludesZero() const { return interval.low > 0 || interval.high < 0; }
};

// `a` and `b` hold the same examples in the same order (same size; the caller aligns them
// by example id). An empty pair gives NaN delta and interval, p = 1.
PairedDelta PairedBootstrap(const ScoreSample& a, const ScoreSample& b, DeltaScale scale,
                            const BootstrapOptions& options = {});

// The `q` quantile (0..1) of `sorted` (ascending), linear between order statistics.
double Quantile(const std::vector<double>& sorted, double q);

// mean ± t(0.975, n−1) · s / √n over repeated runs (seeds): the interval of the mean of
// few repeats, where a bootstrap over 2–5 values would be too narrow. n < 2: [mean, mean].
Interval RepeatsInterval(const std::vector<double>& values);

}  // namespace llmq

#endif  // LLMQ_COMMON_BOOTSTRAP_H_
