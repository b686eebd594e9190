#include "common/bootstrap.h"

#include <cmath>
#include <cstring>
#include <random>

#include "gtest/gtest.h"

namespace llmq {
namespace {

ScoreSample Bernoulli(int n, int ones) {
  ScoreSample sample;
  for (int i = 0; i < n; ++i) sample.values.push_back(i < ones ? 1.0 : 0.0);
  return sample;
}

TEST(BootstrapTest, BernoulliIntervalMatchesNormalApproximationAtThousandExamples) {
  // p = 0.7, n = 1000: p ± 1.96 · sqrt(p (1 − p) / n) = 0.7 ± 0.0284.
  const ScoreSample sample = Bernoulli(1000, 700);
  const double half = 1.96 * std::sqrt(0.7 * 0.3 / 1000);
  const Interval interval = BootstrapInterval(sample);
  EXPECT_NEAR(interval.low, 0.7 - half, 0.01);
  EXPECT_NEAR(interval.high, 0.7 + half, 0.01);
  EXPECT_LT(interval.low, 0.7);
  EXPECT_GT(interval.high, 0.7);
}

TEST(BootstrapTest, FixedSeedReproducesIntervalsBitForBit) {
  std::mt19937_64 rng(7);
  ScoreSample sample;
  for (int i = 0; i < 300; ++i) sample.values.push_back(static_cast<double>(rng() % 1000) / 997.0);
  const Interval first = BootstrapInterval(sample), second = BootstrapInterval(sample);
  EXPECT_EQ(std::memcmp(&first, &second, sizeof(Interval)), 0);
  BootstrapOptions other;
  other.seed = 99;
  const Interval reseeded = BootstrapInterval(sample, other);
  EXPECT_TRUE(reseeded.low != first.low || reseeded.high != first.high);

  ScoreSample shifted = sample;
  for (double& v : shifted.values) v += (rng() % 3) * 0.1;
  const PairedDelta a = PairedBootstrap(shifted, sample, DeltaScale::kDifference);
  const PairedDelta b = PairedBootstrap(shifted, sample, DeltaScale::kDifference);
  EXPECT_EQ(std::memcmp(&a.interval, &b.interval, sizeof(Interval)), 0);
  EXPECT_EQ(a.p_value, b.p_value);
}

TEST(BootstrapTest, IdenticalPairedResultsGiveExactlyZeroWithPValueOne) {
  const ScoreSample sample = Bernoulli(200, 123);
  for (DeltaScale scale : {DeltaScale::kDifference, DeltaScale::kRelative}) {
    const PairedDelta delta = PairedBootstrap(sample, sample, scale);
    EXPECT_EQ(delta.delta, 0.0);
    EXPECT_EQ(delta.interval.low, 0.0);
    EXPECT_EQ(delta.interval.high, 0.0);
    EXPECT_EQ(delta.p_value, 1.0);
    EXPECT_FALSE(delta.ExcludesZero());
  }
}

TEST(BootstrapTest, ConsistentGainExcludesZeroWithSmallPValue) {
  // b right on 100 of 200; a right on those and 20 more: every resample that draws one of
  // the 20 favours a, none favours b.
  const ScoreSample b = Bernoulli(200, 100), a = Bernoulli(200, 120);
  const PairedDelta delta = PairedBootstrap(a, b, DeltaScale::kDifference);
  EXPECT_DOUBLE_EQ(delta.delta, 0.1);
  EXPECT_TRUE(delta.ExcludesZero());
  EXPECT_GT(delta.interval.low, 0);
  EXPECT_LT(delta.p_value, 0.01);
  // Unpaired, the two accuracies' intervals overlap; pairing is what separates them.
  EXPECT_LT(BootstrapInterval(a).low, BootstrapInterval(b).high);
}

TEST(BootstrapTest, PerplexityIsExpOfTokenWeightedMeanNll) {
  ScoreSample windows;
  windows.values = {2.0, 6.0};   // NLL summed over each window's tokens
  windows.weights = {1.0, 3.0};  // tokens per window
  windows.transform = ScoreTransform::kExp;
  EXPECT_DOUBLE_EQ(SampleStatistic(windows), std::exp(8.0 / 4.0));
  const Interval interval = BootstrapInterval(windows);
  // Every resample is exp of a weighted mean of per-token NLLs 2 and 2: all e^2.
  EXPECT_DOUBLE_EQ(interval.low, std::exp(2.0));
  EXPECT_DOUBLE_EQ(interval.high, std::exp(2.0));
}

TEST(BootstrapTest, RelativeDeltaIsRatioMinusOne) {
  ScoreSample a, b;
  a.values = {2.0, 2.0, 2.0};
  b.values = {1.0, 1.0, 1.0};
  const PairedDelta delta = PairedBootstrap(a, b, DeltaScale::kRelative);
  EXPECT_DOUBLE_EQ(delta.delta, 1.0);
  EXPECT_DOUBLE_EQ(delta.interval.low, 1.0);
  EXPECT_EQ(delta.p_value, 0.0);
}

TEST(BootstrapTest, QuantileInterpolatesBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4}, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(Quantile({0, 10}, 0.025), 0.25);
}

TEST(BootstrapTest, RepeatsIntervalUsesStudentT) {
  // mean 2, s = 1, n = 3: 2 ± 4.303 / sqrt(3).
  const Interval interval = RepeatsInterval({1, 2, 3});
  EXPECT_NEAR(interval.low, 2 - 4.303 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(interval.high, 2 + 4.303 / std::sqrt(3.0), 1e-12);
  const Interval single = RepeatsInterval({5});
  EXPECT_EQ(single.low, 5);
  EXPECT_EQ(single.high, 5);
}

TEST(BootstrapTest, MismatchedOrTinySamples) {
  EXPECT_TRUE(std::isnan(PairedBootstrap(Bernoulli(3, 1), Bernoulli(4, 1), DeltaScale::kDifference).delta));
  EXPECT_TRUE(std::isnan(SampleStatistic(ScoreSample())));
  const Interval one = BootstrapInterval(Bernoulli(1, 1));
  EXPECT_EQ(one.low, 1);
  EXPECT_EQ(one.high, 1);
}

}  // namespace
}  // namespace llmq
