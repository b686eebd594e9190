// The `msmarco` task: TREC DL 2019 judged passages re-ranked by log p(" Yes").
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/corpus.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status.h"
#include "eval/jsonl.h"
#include "eval/loglikelihood.h"
#include "eval/msmarco.h"
#include "eval/ranking_metrics.h"
#include "eval/task_common.h"

namespace llmq {

const char kMsmarcoTemplate[] =
    "Passage: {passage}\nQuery: {query}\nDoes the passage answer the query? Answer 'Yes' or 'No'.\nAnswer:";
const char kMsmarcoContinuation[] = " Yes";

std::string MsmarcoPrompt(const std::string& passage, const std::string& query) {
  return absl::StrCat("Passage: ", passage, "\nQuery: ", query,
                      "\nDoes the passage answer the query? Answer 'Yes' or 'No'.\nAnswer:");
}

absl::StatusOr<std::vector<Judgment>> ParseQrels(const std::string& text, const std::string& path) {
  std::vector<Judgment> out;
  int64_t number = 0;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const bool header = first;
    first = false;
    if (fields.size() != 3 && fields.size() != 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": expected 'qid pid grade' or 'qid Q0 pid grade', got ", fields.size(), " fields"));
    }
    Judgment j;
    if (!absl::SimpleAtoi(fields.back(), &j.grade)) {
      if (header) continue;  // BEIR's "query-id corpus-id score"
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": grade '", fields.back(), "' is not an integer"));
    }
    j.query_id = std::string(fields[0]);
    j.passage_id = std::string(fields[fields.size() - 2]);
    out.push_back(std::move(j));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no judgments"));
  return out;
}

absl::StatusOr<RankingDataset> LoadRankingDataset(const std::string& corpus_path,
                                                  const std::string& queries_path,
                                                  const std::string& qrels_path) {
  LLMQ_ASSIGN_OR_RETURN(std::string qrels_text, ReadFile(qrels_path));
  LLMQ_ASSIGN_OR_RETURN(std::vector<Judgment> judgments, ParseQrels(qrels_text, qrels_path));
  LLMQ_ASSIGN_OR_RETURN(std::vector<JsonLine> corpus_lines, ReadJsonLines(corpus_path));
  std::unordered_map<std::string, std::string> passages;
  for (const JsonLine& line : corpus_lines) {
    LLMQ_ASSIGN_OR_RETURN(std::string id, StringField(line, "_id"));
    LLMQ_ASSIGN_OR_RETURN(passages[id], StringField(line, "text"));
  }
  LLMQ_ASSIGN_OR_RETURN(std::vector<JsonLine> query_lines, ReadJsonLines(queries_path));

  RankingDataset out;
  out.judgments = static_cast<int64_t>(judgments.size());
  std::unordered_map<std::string, std::vector<RankingCandidate>> candidates;
  for (const Judgment& j : judgments) {
    auto text = passages.find(j.passage_id);
    if (text == passages.end()) {
      ++out.judgments_without_text;
      continue;
    }
    candidates[j.query_id].push_back({j.passage_id, text->second, j.grade});
  }
  for (const JsonLine& line : query_lines) {
    RankingQuery query;
    LLMQ_ASSIGN_OR_RETURN(query.id, StringField(line, "_id"));
    LLMQ_ASSIGN_OR_RETURN(query.text, StringField(line, "text"));
    auto it = candidates.find(query.id);
    if (it == candidates.end()) continue;
    query.candidates = std::move(it->second);
    out.queries.push_back(std::move(query));
  }
  if (out.queries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(queries_path, ": no query has a judged passage in ",
                                                   corpus_path, " per ", qrels_path));
  }
  return out;
}

absl::StatusOr<TaskOutput> RunMsmarcoTask(const Params& params, TaskContext& context) {
  LLMQ_RETURN_IF_ERROR(CheckModelAndTokenizer(context, "msmarco"));
  LLMQ_ASSIGN_OR_RETURN(CommonTaskParams common, ReadCommonTaskParams(params));
  LLMQ_ASSIGN_OR_RETURN(std::string dir, GetString(params, "dataset"));
  if (dir.empty()) dir = AssetPath("data/msmarco/dl19_beir_subset");
  LLMQ_ASSIGN_OR_RETURN(std::string qrels_path, GetString(params, "qrels"));
  if (qrels_path.empty()) qrels_path = JoinPath(dir, "qrels/test.tsv");
  LLMQ_ASSIGN_OR_RETURN(const int64_t max_passages, GetInt(params, "max_passages"));
  LLMQ_ASSIGN_OR_RETURN(const int64_t k, GetInt(params, "k"));
  LLMQ_ASSIGN_OR_RETURN(const int64_t min_grade, GetInt(params, "mrr_min_grade"));
  if (max_passages < 0 || k < 1) {
    return absl::InvalidArgumentError("parameters 'max_passages' >= 0 and 'k' >= 1 expected");
  }
  LLMQ_ASSIGN_OR_RETURN(RankingDataset data,
                        LoadRankingDataset(JoinPath(dir, "corpus.jsonl"), JoinPath(dir, "queries.jsonl"), qrels_path));

  LLMQ_ASSIGN_OR_RETURN(const std::string qrels_sha256, Sha256File(qrels_path));
  LLMQ_ASSIGN_OR_RETURN(const std::string corpus_sha256, Sha256File(JoinPath(dir, "corpus.jsonl")));
  std::vector<RankingQuery> queries;
  for (size_t i : SubsampleIndices(data.queries.size(), common.subsample)) {
    RankingQuery query = std::move(data.queries[i]);
    const size_t n = query.candidates.size();
    if (max_passages > 0 && n > static_cast<size_t>(max_passages)) {
      std::vector<size_t> keep = SeededPermutation(n, common.subsample.seed ^ Fnv1a64(query.id));
      keep.resize(static_cast<size_t>(max_passages));
      std::sort(keep.begin(), keep.end());
      std::vector<RankingCandidate> kept;
      for (size_t c : keep) kept.push_back(std::move(query.candidates[c]));
      query.candidates = std::move(kept);
    }
    queries.push_back(std::move(query));
  }
  std::vector<LoglikelihoodRequest> requests;
  for (const RankingQuery& query : queries) {
    for (const RankingCandidate& c : query.candidates) {
      requests.push_back({MsmarcoPrompt(c.text, query.text), kMsmarcoContinuation});
    }
  }
  LoglikelihoodOptions options;
  options.batch_size = common.batch_size;
  options.add_special = common.bos;
  auto progress = [&](int64_t done, int64_t total) {
    if (context.progress) context.progress(done, total, "msmarco passages");
  };
  LLMQ_ASSIGN_OR_RETURN(
      std::vector<LoglikelihoodResult> results,
      CatchExceptions("msmarco scoring", [&]() -> absl::StatusOr<std::vector<LoglikelihoodResult>> {
        return ComputeLoglikelihoods(*context.model, *context.tokenizer, requests, options, progress);
      }));

  double ndcg = 0, mrr = 0, random_ndcg = 0, random_mrr = 0;
  int64_t truncated = 0, with_relevant = 0;
  size_t next = 0;
  const std::string ndcg_name = absl::StrCat("ndcg_at_", k), mrr_name = absl::StrCat("mrr_at_", k);
  ExampleSeries ndcg_scores{ndcg_name, ndcg_name}, rr_scores{absl::StrCat("rr_at_", k), mrr_name};
  for (const RankingQuery& query : queries) {
    std::vector<double> scores;
    for (size_t c = 0; c < query.candidates.size(); ++c) {
      truncated += results[next].truncated > 0;
      scores.push_back(results[next++].logprob);
    }
    std::vector<int> ranked_grades;
    bool any_relevant = false;
    for (size_t c : RankByScore(scores)) {
      ranked_grades.push_back(query.candidates[c].grade);
      any_relevant = any_relevant || query.candidates[c].grade >= min_grade;
    }
    with_relevant += any_relevant;
    random_ndcg += RandomNdcgAtK(ranked_grades, static_cast<size_t>(k));
    random_mrr += RandomReciprocalRankAtK(ranked_grades, static_cast<size_t>(k), static_cast<int>(min_grade));
    ndcg_scores.values.push_back(NdcgAtK(ranked_grades, static_cast<size_t>(k)));
    rr_scores.values.push_back(
        ReciprocalRankAtK(ranked_grades, static_cast<size_t>(k), static_cast<int>(min_grade)));
    ndcg += ndcg_scores.values.back();
    mrr += rr_scores.values.back();
  }
  const double n = static_cast<double>(std::max<size_t>(1, queries.size()));
  TaskOutput out;
  out.metrics = {
      {absl::StrCat("ndcg_at_", k), ndcg / n, ""},
      {absl::StrCat("mrr_at_", k), mrr / n, ""},
      {absl::StrCat("ndcg_at_", k, "_random_order"), random_ndcg / n, ""},
      {absl::StrCat("mrr_at_", k, "_random_order"), random_mrr / n, ""},
      {"n_queries", static_cast<double>(queries.size()), "queries"},
      {"n_passages", static_cast<double>(requests.size()), "passages"},
  };
  for (size_t i : SubsampleIndices(data.queries.size(), common.subsample)) {
    out.examples.ids.push_back(static_cast<int64_t>(i));
  }
  out.examples.series = {std::move(ndcg_scores), std::move(rr_scores)};
  AddCommonProvenance("msmarco", common, data.queries.size(), out.provenance);
  out.provenance["msmarco.dataset"] = dir;
  out.provenance["msmarco.qrels"] = qrels_path;
  out.provenance["msmarco.qrels_sha256"] = qrels_sha256;
  out.provenance["msmarco.corpus_sha256"] = corpus_sha256;
  out.provenance["msmarco.candidates"] = "judged passages of the query with text in the corpus, qrels order";
  out.provenance["msmarco.judgments_without_text"] = absl::StrCat(data.judgments_without_text);
  out.provenance["msmarco.max_passages"] = absl::StrCat(max_passages);
  out.provenance["msmarco.score"] = "log p(\" Yes\" | prompt)";
  out.provenance["msmarco.template"] = kMsmarcoTemplate;
  out.provenance["msmarco.template_sha256"] = Sha256Hex(kMsmarcoTemplate);
  out.provenance["msmarco.gain"] = "linear (grade), log2(rank+1) discount";
  out.provenance["msmarco.mrr_min_grade"] = absl::StrCat(min_grade);
  out.provenance["msmarco.queries_with_relevant"] = absl::StrCat(with_relevant);
  out.provenance["msmarco.truncated_passages"] = absl::StrCat(truncated);
  out.provenance["msmarco.n_queries"] = absl::StrCat(queries.size());
  out.provenance["msmarco.n_passages"] = absl::StrCat(requests.size());
  return out;
}

}  // namespace llmq
