// MS MARCO passage re-ranking on the TREC Deep Learning 2019 judged queries.
//
// Candidate set: for each query, the passages its qrels judge AND whose text is in the
// corpus, in qrels order. With the bundled BEIR subset (assets/data/msmarco/
// dl19_beir_subset) that is every passage judged 1-3 (related .. perfectly relevant):
// the corpus holds no grade-0 passage text, so the model orders judged-relevant passages
// by how relevant they are, and NDCG@10 rewards putting grade 3 above grade 1. Queries
// with no candidate are skipped (7 of the subset's 50 queries have no qrels).
//
// Score of a passage: log p(" Yes" | prompt), prompt = kMsmarcoTemplate with the passage
// and query filled in. Metrics: NDCG@10 (linear gains = grades, ideal DCG from the same
// candidate set) and MRR@10 (grade >= 2 is relevant, as TREC DL's passage task), averaged
// over the evaluated queries. Also reported: both metrics' exact expected values under a
// uniformly random order of the same candidates (chance level; high here, since every
// bundled candidate is judged relevant to some degree).
//
// Task parameters (besides limit = number of queries, subsample, seed, batch_size, bos):
//   dataset       BEIR-layout directory: corpus.jsonl ({"_id","text"}), queries.jsonl
//                 ({"_id","text"}), qrels/test.tsv (default: the bundled subset)
//   qrels         qrels file override: "qid pid grade" (BEIR TSV, optional header) or
//                 TREC "qid Q0 pid grade"
//   max_passages  cap on candidates per query, a seeded sample (seed ^ FNV-1a(qid)); 0 = all
//   k (10), mrr_min_grade (2)
#ifndef LLMQ_EVAL_MSMARCO_H_
#define LLMQ_EVAL_MSMARCO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

struct RankingCandidate {
  std::string passage_id;
  std::string text;
  int grade = 0;
};

struct RankingQuery {
  std::string id;
  std::string text;
  std::vector<RankingCandidate> candidates;  // qrels order
};

struct RankingDataset {
  std::vector<RankingQuery> queries;  // queries.jsonl order, those with >= 1 candidate
  int64_t judgments = 0;              // qrels lines read
  int64_t judgments_without_text = 0; // qrels lines whose passage is not in the corpus
};

struct Judgment {
  std::string query_id;
  std::string passage_id;
  int grade = 0;
};

// Parses qrels text from `path` (for errors: path:line).
absl::StatusOr<std::vector<Judgment>> ParseQrels(const std::string& text, const std::string& path);

absl::StatusOr<RankingDataset> LoadRankingDataset(const std::string& corpus_path,
                                                  const std::string& queries_path,
                                                  const std::string& qrels_path);

extern const char kMsmarcoTemplate[];
extern const char kMsmarcoContinuation[];  // " Yes"
std::string MsmarcoPrompt(const std::string& passage, const std::string& query);

}  // namespace llmq

#endif  // LLMQ_EVAL_MSMARCO_H_
