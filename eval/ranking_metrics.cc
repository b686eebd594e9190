#include "eval/ranking_metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace llmq {
namespace {

double DcgAtK(const std::vector<int>& grades, size_t k) {
  double dcg = 0;
  for (size_t r = 0; r < std::min(k, grades.size()); ++r) {
    dcg += static_cast<double>(grades[r]) / std::log2(static_cast<double>(r) + 2.0);
  }
  return dcg;
}

}  // namespace

std::vector<size_t> RankByScore(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  // NaN (a broken model) ranks last rather than breaking the sort's ordering.
  auto key = [&](size_t i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
  return order;
}

double NdcgAtK(const std::vector<int>& ranked_grades, size_t k) {
  std::vector<int> ideal = ranked_grades;
  std::sort(ideal.begin(), ideal.end(), std::greater<int>());
  const double idcg = DcgAtK(ideal, k);
  return idcg > 0 ? DcgAtK(ranked_grades, k) / idcg : 0.0;
}

double ReciprocalRankAtK(const std::vector<int>& ranked_grades, size_t k, int min_grade) {
  for (size_t r = 0; r < std::min(k, ranked_grades.size()); ++r) {
    if (ranked_grades[r] >= min_grade) return 1.0 / static_cast<double>(r + 1);
  }
  return 0.0;
}

double RandomNdcgAtK(const std::vector<int>& grades, size_t k) {
  std::vector<int> ideal = grades;
  std::sort(ideal.begin(), ideal.end(), std::greater<int>());
  const double idcg = DcgAtK(ideal, k);
  if (idcg <= 0) return 0.0;
  const double mean = std::accumulate(grades.begin(), grades.end(), 0.0) / static_cast<double>(grades.size());
  double discounts = 0;
  for (size_t r = 0; r < std::min(k, grades.size()); ++r) discounts += 1.0 / std::log2(static_cast<double>(r) + 2.0);
  return mean * discounts / idcg;
}

double RandomReciprocalRankAtK(const std::vector<int>& grades, size_t k, int min_grade) {
  const double n = static_cast<double>(grades.size());
  double m = 0;
  for (int g : grades) m += g >= min_grade;
  if (m == 0) return 0.0;
  double none_before = 1.0, expected = 0.0;  // P(no relevant in ranks 1..r-1)
  for (size_t r = 1; r <= std::min(k, grades.size()); ++r) {
    const double i = static_cast<double>(r - 1);
    expected += none_before * m / (n - i) / static_cast<double>(r);
    none_before *= (n - m - i) / (n - i);
    if (none_before <= 0) break;
  }
  return expected;
}

}  // namespace llmq
