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

}  // namespace llmq

#endif  // LLMQ_EVAL_RANKING_METRICS_H_
