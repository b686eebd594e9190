#include "eval/msmarco.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/ranking_metrics.h"
#include "eval/task.h"
#include "eval/task_test_util.h"
#include "model/loader.h"

namespace llmq {
namespace {

class MsmarcoTaskTest : public Stories260kTaskTest {};

TEST(MsmarcoMetricsTest, NdcgOfAHandRankedList) {
  // Ranked grades 0, 3, 1, 2.
  // DCG  = 0/log2(2) + 3/log2(3) + 1/log2(4) + 2/log2(5)
  //      = 0 + 1.892789 + 0.5 + 0.861353 = 3.254142
  // IDCG = 3/1 + 2/log2(3) + 1/log2(4) + 0 = 3 + 1.261860 + 0.5 = 4.761860
  // NDCG = 0.683378
  EXPECT_NEAR(NdcgAtK({0, 3, 1, 2}, 10), 3.254142 / 4.761860, 1e-6);
  EXPECT_NEAR(NdcgAtK({3, 2, 1, 0}, 10), 1.0, 1e-12);
}

TEST(MsmarcoMetricsTest, NdcgCutsAtKButIdealUsesTheWholeCandidateSet) {
  // k = 2, ranked grades 1, 0, 3: DCG@2 = 1/1 + 0 = 1; IDCG@2 = 3/1 + 1/log2(3) = 3.630930.
  EXPECT_NEAR(NdcgAtK({1, 0, 3}, 2), 1.0 / 3.630930, 1e-6);
  // All grades zero: no ideal gain, NDCG 0 by convention (trec_eval).
  EXPECT_EQ(NdcgAtK({0, 0, 0}, 10), 0.0);
}

TEST(MsmarcoMetricsTest, ReciprocalRankUsesTheRelevanceThreshold) {
  // Grades 1, 1, 2, 3 with relevance >= 2: first relevant at rank 3 -> 1/3.
  EXPECT_NEAR(ReciprocalRankAtK({1, 1, 2, 3}, 10, 2), 1.0 / 3.0, 1e-12);
  // With >= 1 the first is relevant -> 1.
  EXPECT_EQ(ReciprocalRankAtK({1, 1, 2, 3}, 10, 2 - 1), 1.0);
  // First relevant at rank 11: outside the cut -> 0.
  std::vector<int> grades(10, 1);
  grades.push_back(3);
  EXPECT_EQ(ReciprocalRankAtK(grades, 10, 2), 0.0);
  EXPECT_NEAR(ReciprocalRankAtK(grades, 11, 2), 1.0 / 11.0, 1e-12);
}

TEST(MsmarcoMetricsTest, RandomOrderBaselinesMatchEnumeration) {
  // Grades {0, 3}: the two orders give NDCG 1 (3 first) and (3/log2 3)/3 = 0.630930, mean
  // 0.815465; RR with grade >= 2: 1 and 1/2, mean 0.75.
  EXPECT_NEAR(RandomNdcgAtK({0, 3}, 10), (1.0 + 0.630930) / 2, 1e-6);
  EXPECT_NEAR(RandomReciprocalRankAtK({0, 3}, 10, 2), 0.75, 1e-12);
  // Grades {2, 1, 1} with grade >= 2 relevant: the relevant one is at rank 1, 2 or 3 with
  // probability 1/3 each: (1 + 1/2 + 1/3) / 3 = 0.611111; cut at k = 2: (1 + 1/2) / 3 = 0.5.
  EXPECT_NEAR(RandomReciprocalRankAtK({2, 1, 1}, 10, 2), (1 + 0.5 + 1.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(RandomReciprocalRankAtK({2, 1, 1}, 2, 2), 0.5, 1e-12);
  // NDCG of {2, 1, 1}: orders 211, 121, 112 (each twice) give DCG 2 + 1/log2 3 + 1/2 = 3.130930,
  // 1 + 2/log2 3 + 1/2 = 2.761860, 1 + 1/log2 3 + 1 = 2.630930; IDCG 3.130930;
  // mean NDCG = (3.130930 + 2.761860 + 2.630930) / 3 / 3.130930 = 0.907427.
  EXPECT_NEAR(RandomNdcgAtK({2, 1, 1}, 10), (3.130930 + 2.761860 + 2.630930) / 3 / 3.130930, 1e-6);
  EXPECT_EQ(RandomReciprocalRankAtK({1, 1}, 10, 2), 0.0);
}

TEST(MsmarcoMetricsTest, RankByScoreIsDescendingStableAndSendsNanLast) {
  EXPECT_EQ(RankByScore({-3.0, -1.0, -2.0, -1.0}), (std::vector<size_t>{1, 3, 2, 0}));
  EXPECT_EQ(RankByScore({NAN, -5.0, -1.0}), (std::vector<size_t>{2, 1, 0}));
}

TEST(MsmarcoDataTest, ParsesBeirAndTrecQrels) {
  auto beir = ParseQrels("query-id\tcorpus-id\tscore\n19335\t1720389\t1\n19335\t1729\t2\n", "q.tsv");
  ASSERT_TRUE(beir.ok()) << beir.status();
  ASSERT_EQ(beir->size(), 2u);
  EXPECT_EQ((*beir)[1].passage_id, "1729");
  EXPECT_EQ((*beir)[1].grade, 2);
  auto trec = ParseQrels("19335 Q0 1017759 0\n19335 Q0 1082489 3\n", "q.txt");
  ASSERT_TRUE(trec.ok()) << trec.status();
  EXPECT_EQ((*trec)[1].passage_id, "1082489");
  EXPECT_EQ((*trec)[1].grade, 3);
  auto bad = ParseQrels("1 2 3\n1 2 x\n", "bad.tsv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("bad.tsv:2:"), std::string::npos) << bad.status();
  auto short_line = ParseQrels("1 2 3\n\n1 2\n", "short.tsv");
  ASSERT_FALSE(short_line.ok());
  EXPECT_NE(short_line.status().ToString().find("short.tsv:3:"), std::string::npos) << short_line.status();
}

TEST(MsmarcoDataTest, BundledSubsetHas43JudgedQueriesWithAllTheirPassages) {
  const std::string dir = "assets/data/msmarco/dl19_beir_subset/";
  auto data = LoadRankingDataset(dir + "corpus.jsonl", dir + "queries.jsonl", dir + "qrels/test.tsv");
  ASSERT_TRUE(data.ok()) << data.status();
  // SOURCES.md: 43 judged queries, 4,102 qrels lines, every judged passage in the corpus.
  EXPECT_EQ(data->queries.size(), 43u);
  EXPECT_EQ(data->judgments, 4102);
  EXPECT_EQ(data->judgments_without_text, 0);
  size_t candidates = 0;
  for (const auto& q : data->queries) candidates += q.candidates.size();
  EXPECT_EQ(candidates, 4102u);
  // The full TREC qrels add 5,158 grade-0 judgments whose passages have no text here.
  auto full = LoadRankingDataset(dir + "corpus.jsonl", dir + "queries.jsonl",
                                 "assets/data/msmarco/dl19/qrels.dl19-passage.txt");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->judgments, 9260);
  EXPECT_EQ(full->judgments_without_text, 5158);
}

TEST(MsmarcoDataTest, PromptFillsTheTemplate) {
  EXPECT_EQ(MsmarcoPrompt("Goldfish grow.", "do goldfish grow"),
            "Passage: Goldfish grow.\nQuery: do goldfish grow\n"
            "Does the passage answer the query? Answer 'Yes' or 'No'.\nAnswer:");
}

TEST_F(MsmarcoTaskTest, RunsEndToEndOnACappedSubset) {
  auto out = RunTask("msmarco", {{"limit", "2"}, {"max_passages", "4"}}, context_);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->metrics.size(), 6u);
  EXPECT_EQ(out->metrics[0].name, "ndcg_at_10");
  EXPECT_GT(out->metrics[0].value, 0.0);  // every candidate has grade >= 1
  EXPECT_LE(out->metrics[0].value, 1.0);
  EXPECT_EQ(out->metrics[2].name, "ndcg_at_10_random_order");
  EXPECT_EQ(out->metrics[4].value, 2.0);
  EXPECT_EQ(out->metrics[5].value, 8.0);
  EXPECT_EQ(out->provenance.at("msmarco.n_passages"), "8");
}

}  // namespace
}  // namespace llmq
