#include "common/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace llmq {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Apply(ScoreTransform transform, double x) {
  return transform == ScoreTransform::kExp ? std::exp(x) : x;
}

// The statistic over the examples at `indices` (repeats allowed).
double StatisticAt(const ScoreSample& sample, const std::vector<size_t>& indices) {
  double sum = 0, weight = 0;
  const bool weighted = !sample.weights.empty();
  for (size_t i : indices) {
    sum += sample.values[i];
    weight += weighted ? sample.weights[i] : 1.0;
  }
  if (weight == 0) return kNaN;
  return Apply(sample.transform, sum / weight);
}

void Resample(size_t n, std::mt19937_64& rng, std::vector<size_t>* indices) {
  indices->resize(n);
  for (size_t& i : *indices) i = static_cast<size_t>(rng() % n);
}

double Delta(double a, double b, DeltaScale scale) {
  return scale == DeltaScale::kRelative ? a / b - 1.0 : a - b;
}

}  // namespace

double SampleStatistic(const ScoreSample& sample) {
  std::vector<size_t> all(sample.values.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all.empty() ? kNaN : StatisticAt(sample, all);
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return kNaN;
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

Interval BootstrapInterval(const ScoreSample& sample, const BootstrapOptions& options) {
  const size_t n = sample.values.size();
  const double whole = SampleStatistic(sample);
  if (n < 2 || options.resamples < 1) return {whole, whole};
  std::mt19937_64 rng(options.seed);
  std::vector<size_t> indices;
  std::vector<double> statistics;
  statistics.reserve(options.resamples);
  for (int b = 0; b < options.resamples; ++b) {
    Resample(n, rng, &indices);
    const double s = StatisticAt(sample, indices);
    if (!std::isnan(s)) statistics.push_back(s);
  }
  std::sort(statistics.begin(), statistics.end());
  const double tail = (1.0 - options.confidence) / 2.0;
  return {Quantile(statistics, tail), Quantile(statistics, 1.0 - tail)};
}

PairedDelta PairedBootstrap(const ScoreSample& a, const ScoreSample& b, DeltaScale scale,
                            const BootstrapOptions& options) {
  PairedDelta out;
  const size_t n = a.values.size();
  if (n == 0 || b.values.size() != n) {
    out.delta = kNaN;
    out.interval = {kNaN, kNaN};
    return out;
  }
  out.delta = Delta(SampleStatistic(a), SampleStatistic(b), scale);
  if (n < 2 || options.resamples < 1) {
    out.interval = {out.delta, out.delta};
    return out;
  }
  std::mt19937_64 rng(options.seed);
  std::vector<size_t> indices;
  std::vector<double> deltas;
  deltas.reserve(options.resamples);
  int at_most_zero = 0, at_least_zero = 0;
  for (int r = 0; r < options.resamples; ++r) {
    Resample(n, rng, &indices);
    const double d = Delta(StatisticAt(a, indices), StatisticAt(b, indices), scale);
    if (std::isnan(d)) continue;
    deltas.push_back(d);
    at_most_zero += d <= 0;
    at_least_zero += d >= 0;
  }
  if (deltas.empty()) {
    out.interval = {kNaN, kNaN};
    return out;
  }
  std::sort(deltas.begin(), deltas.end());
  const double tail = (1.0 - options.confidence) / 2.0;
  out.interval = {Quantile(deltas, tail), Quantile(deltas, 1.0 - tail)};
  const double count = static_cast<double>(deltas.size());
  out.p_value = std::min(1.0, 2.0 * std::min(at_most_zero, at_least_zero) / count);
  return out;
}

Interval RepeatsInterval(const std::vector<double>& values) {
  const size_t n = values.size();
  double mean = 0;
  for (double v : values) mean += v;
  mean /= std::max<size_t>(1, n);
  if (n < 2) return {mean, mean};
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / static_cast<double>(n - 1));
  // Student's t, 97.5th percentile, for n − 1 = 1..30 degrees of freedom; beyond, 1.96.
  static constexpr double kT975[] = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  const size_t df = n - 1;
  const double t = df <= 30 ? kT975[df - 1] : 1.96;
  const double half = t * sd / std::sqrt(static_cast<double>(n));
  return {mean - half, mean + half};
}

}  // namespace llmq
