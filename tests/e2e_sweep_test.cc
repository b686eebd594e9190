// Sweeps as a user runs them: a coordinator and worker daemons as separate processes on
// loopback, `llmq-coord submit` and `results` as commands, the database read directly.
#include <cmath>
#include <map>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

class E2eSweepTest : public E2eTest {};

using Table = std::vector<std::vector<std::string>>;

// A Markdown table as rows of trimmed cells: the header first, the alignment row dropped.
Table ParseMarkdown(absl::string_view text) {
  Table table;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "|") || !absl::ConsumeSuffix(&line, "|")) continue;
    if (absl::StartsWith(line, ":") || absl::StartsWith(line, "-")) continue;  // |:---|--:|
    std::vector<std::string>& row = table.emplace_back();
    for (absl::string_view cell : absl::StrSplit(line, '|')) {
      row.emplace_back(absl::StripAsciiWhitespace(cell));
    }
  }
  return table;
}

// examples/e2e-12.yaml: 13 jobs (none and rtn 4/3-bit x groups of 32 / whole rows, on two
// ppl tasks and an efficiency probe, minus the 3-bit probes).
TEST_F(E2eSweepTest, TwoWorkersRunA13JobSweepAndResultsPrintsItsTable) {
  ASSERT_NE(StartCoordinator(), nullptr);
  ASSERT_NE(StartWorker("a"), nullptr);
  ASSERT_NE(StartWorker("b"), nullptr);
  // Both registered and long-polling before the jobs exist, so both get some.
  ASSERT_TRUE(WaitFor([&] { return !WorkerId("a").empty() && !WorkerId("b").empty(); },
                      absl::Seconds(30), "both workers to register")
                  .ok());
  std::string submit_err;
  absl::StatusOr<int64_t> sweep = Submit(SourcePath("examples/e2e-12.yaml"), &submit_err);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_TRUE(absl::StrContains(submit_err, "13 jobs (13 new, 0 already done, 0 in progress)"))
      << submit_err;
  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(150));
  ASSERT_TRUE(done.ok()) << done;

  const DbReader db = Db();
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=13");
  ExpectEachJobRecordedOnce(*sweep, 13);
  EXPECT_EQ(db.IntOr("SELECT COUNT(DISTINCT worker_id) FROM results"), 2)
      << "both workers should have run jobs";

  const CommandResult results =
      Coord({"results", absl::StrCat(*sweep), "--metrics=ppl,throughput_b1", "--mark_best=false"});
  ASSERT_EQ(results.code(), 0) << results.err;
  const Table table = ParseMarkdown(results.out);
  // The header, then one row per (model, method, bits, group_size): none and 4 rtn.
  ASSERT_EQ(table.size(), 6u) << results.out;
  const std::vector<std::string>& header = table[0];
  ASSERT_GE(header.size(), 7u) << results.out;
  EXPECT_EQ(std::vector<std::string>(header.begin(), header.begin() + 4),
            (std::vector<std::string>{"model", "method", "bits", "group_size"}));
  // Column index of each task's metric, found by its header.
  int tinystories = -1, wikitext2 = -1, throughput = -1;
  for (size_t i = 4; i < header.size(); ++i) {
    if (absl::StrContains(header[i], "tinystories")) tinystories = i;
    if (absl::StrContains(header[i], "wikitext2")) wikitext2 = i;
    if (absl::StrContains(header[i], "throughput b1")) throughput = i;  // "throughput b1 (tok/s)"
  }
  ASSERT_TRUE(tinystories > 0 && wikitext2 > 0 && throughput > 0) << results.out;

  // The ppl the table prints (4 significant digits) is the one the database holds.
  std::map<std::string, double> ppl_in_db;
  absl::StatusOr<Table> rows = db.Rows(absl::StrCat(
      "SELECT method || '/' || IFNULL(bits, '-') || '/' || IFNULL(group_size, '-') || '/' || "
      "task_dataset, ppl FROM v_jobs WHERE sweep_id = ", *sweep, " AND task = 'ppl'"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 10u);
  for (const auto& row : *rows) ASSERT_TRUE(absl::SimpleAtod(row[1], &ppl_in_db[row[0]]));

  for (size_t r = 1; r < table.size(); ++r) {
    const std::vector<std::string>& row = table[r];
    ASSERT_EQ(row.size(), header.size()) << results.out;
    EXPECT_EQ(row[0], "stories260k");
    const std::string key = absl::StrCat(row[1], "/", row[2], "/", row[3], "/");
    for (const auto& [column, dataset] :
         {std::make_pair(tinystories, "tinystories"), std::make_pair(wikitext2, "wikitext2")}) {
      double ppl = 0;
      ASSERT_TRUE(absl::SimpleAtod(row[column], &ppl)) << row[column];
      EXPECT_TRUE(std::isfinite(ppl) && ppl > 1.0) << key << dataset << " ppl " << ppl;
      const double stored = ppl_in_db[key + dataset];
      EXPECT_NEAR(ppl, stored, 1e-3 * stored) << key << dataset;
    }
    double tokens_per_s = 0;
    if (row[2] == "3") {
      EXPECT_EQ(row[throughput], "-") << "3-bit efficiency probes are excluded";
    } else {
      ASSERT_TRUE(absl::SimpleAtod(row[throughput], &tokens_per_s)) << row[throughput];
      EXPECT_GT(tokens_per_s, 0.0);
    }
  }
}

// Job keys make resubmission idempotent; a model in another format (the same weights as
// a Hugging Face directory) is another model identity, so only its jobs are new.
TEST_F(E2eSweepTest, ResubmittedGridAddsNothingAndANewModelAddsOnlyItsJobs) {
  ASSERT_NE(StartCoordinator(), nullptr);
  ASSERT_NE(StartWorker("a"), nullptr);
  const std::string methods = "  - none\n  - {name: rtn, bits: [4, 3], group_size: 32}\n";
  const std::string tasks = "  - {name: ppl, dataset: tinystories, context: 128, limit: 2}\n";
  const std::string grid = WriteFile("grid.yaml", TinyGrid("resubmit", methods, tasks));
  std::string err;
  absl::StatusOr<int64_t> first = Submit(grid, &err);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::StrContains(err, "3 jobs (3 new, 0 already done, 0 in progress)")) << err;
  ASSERT_TRUE(WaitForSweep(*first, absl::Seconds(90)).ok()) << StateCounts(*first);
  ASSERT_EQ(StateCounts(*first), "SUCCEEDED=3");

  absl::StatusOr<int64_t> again = Submit(grid, &err);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first + 1);
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat("sweep ", *again, ": 3 jobs (0 new, 3 already done, 0 in progress)")))
      << err;
  const DbReader db = Db();
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM jobs"), 3);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM attempts"), 3);
  EXPECT_EQ(StateCounts(*again), "SUCCEEDED=3") << "the new sweep sees the old results";

  const std::string hf = absl::StrCat(
      "  - name: stories260k-hf\n    path: ", SourcePath("assets/models/stories260K-hf"), "\n");
  std::string two_models = TinyGrid("resubmit", methods, tasks);
  two_models.insert(two_models.find("methods:"), hf);
  absl::StatusOr<int64_t> third = Submit(WriteFile("two-models.yaml", two_models), &err);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(absl::StrContains(err, "6 jobs (3 new, 3 already done, 0 in progress)")) << err;
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM jobs"), 6);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM jobs WHERE sweep_id = ", *third,
                                  " AND model = 'stories260k-hf'")),
            3);
  ASSERT_TRUE(WaitForSweep(*third, absl::Seconds(90)).ok()) << StateCounts(*third);
  EXPECT_EQ(StateCounts(*third), "SUCCEEDED=6");
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM results"), 6);
  // The same weights in two formats: the same perplexity, method by method.
  absl::StatusOr<Table> pairs = db.Rows(absl::StrCat(
      "SELECT a.ppl, b.ppl FROM v_jobs a JOIN v_jobs b ON a.method = b.method AND "
      "IFNULL(a.bits, 0) = IFNULL(b.bits, 0) AND a.sweep_id = b.sweep_id WHERE a.sweep_id = ",
      *third, " AND a.model = 'stories260k' AND b.model = 'stories260k-hf'"));
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  ASSERT_EQ(pairs->size(), 3u);
  for (const auto& pair : *pairs) {
    double llama2c = 0, hf_ppl = 0;
    ASSERT_TRUE(absl::SimpleAtod(pair[0], &llama2c) && absl::SimpleAtod(pair[1], &hf_ppl));
    EXPECT_NEAR(llama2c, hf_ppl, 1e-4 * llama2c);
  }
}

// A grid that does not parse is refused before anything reaches the coordinator.
TEST_F(E2eSweepTest, MalformedGridExitsTwoWithFileLineColumnAndWritesNothing) {
  ASSERT_NE(StartCoordinator(), nullptr);
  const std::string tasks = "  - {name: ppl, context: 128, limit: 2}\n";
  absl::StatusOr<int64_t> good = Submit(WriteFile("good.yaml", TinyGrid("good", "  - none\n", tasks)));
  ASSERT_TRUE(good.ok()) << good.status();
  const DbReader db = Db();
  const std::string counts =
      "SELECT (SELECT COUNT(*) FROM sweeps) * 1000000 + (SELECT COUNT(*) FROM jobs) * 1000 + "
      "(SELECT COUNT(*) FROM sweep_jobs)";
  const int64_t before = db.IntOr(counts);
  ASSERT_EQ(before, 1001001);

  // Line 6 is `  - {name: rtn, bits: 9}`: the 9 is in column 23.
  const std::string bad_value =
      WriteFile("bad-value.yaml", TinyGrid("bad", "  - {name: rtn, bits: 9}\n", tasks));
  CommandResult run = Coord({"submit", bad_value});
  EXPECT_EQ(run.code(), 2) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, absl::StrCat(bad_value, ":6:23: methods: rtn: bits: "
                                                                 "expected an integer in 2..8")))
      << run.err;
  EXPECT_EQ(run.out, "");

  const std::string bad_syntax =
      WriteFile("bad-syntax.yaml", TinyGrid("bad", "  - [none\n", tasks));
  run = Coord({"submit", bad_syntax});
  EXPECT_EQ(run.code(), 2) << run.err;
  EXPECT_TRUE(std::regex_search(run.err, std::regex("bad-syntax\\.yaml:[0-9]+:[0-9]+: YAML")))
      << run.err;

  EXPECT_EQ(db.IntOr(counts), before);
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
