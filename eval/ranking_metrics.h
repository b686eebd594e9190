// Ranking metrics over a judged candidate list, as TREC's trec_eval computes them:
//   NDCG@k = DCG@k / IDCG@k, DCG@k = sum over ranks r = 1..k of grade_r / log2(r + 1)
//            (linear gains: the grade itself); IDCG@k is the DCG@k of the same candidates
//            sorted by grade; 0 when no candidate has a positive grade.
//   RR@k   = 1 / (rank of the first candidate with grade >= min_grade) if that rank <= k,
//            else 0. MRR@k is its mean over queries.
#ifndef LLMQ_EVAL_RANKING_METRICS_H_
#define LLMQ_EVAL_RANKING_METRICS_H_

#include <cstddef>
#include <vector>

namespace llmq {

// Indices of `scores` from the highest score down; equal scores keep index order and NaN
// counts as -infinity.
std::vector<size_t> RankByScore(const std::vector<double>& scores);

// `ranked_grades`: the grade of each candidate in ranked order (best first).
double NdcgAtK(const std::vector<int>& ranked_grades, size_t k);
double ReciprocalRankAtK(const std::vector<int>& ranked_grades, size_t k, int min_grade);

// Expected values of the two metrics when the candidates are ordered uniformly at random,
// exactly (no sampling): the chance level a model's ranking should be read against. With
// judged-relevant-only candidate sets it is far from 0.
//   E[NDCG@k] = mean grade * sum_{r <= min(k, n)} 1 / log2(r + 1) / IDCG@k
//   E[RR@k]   = sum_{r <= k} 1/r * P(first relevant at rank r), m relevant of n:
//               P = prod_{i < r-1} (n - m - i) / (n - i) * m / (n - r + 1)
double RandomNdcgAtK(const std::vector<int>& grades, size_t k);
double RandomReciprocalRankAtK(const std::vector<int>& grades, size_t k, int min_grade);

}  // namespace llmq

#endif  // LLMQ_EVAL_RANKING_METRICS_H_
