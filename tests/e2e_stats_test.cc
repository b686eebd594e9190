// Numbers a reviewer trusts, end to end: a worker process keeps each task's per-example
// scores, the coordinator stores them beside the intervals, and `results --ci --delta
// --format=json` carries an interval for every value and a paired difference for every
// quantized row; `submit --dry_run` predicts each job's cost from the recorded ones.
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

class E2eStatsTest : public E2eTest {};

TEST_F(E2eStatsTest, BoolqFp32AgainstRtn3BitHasIntervalsAndAPairedDelta) {
  ASSERT_NE(StartCoordinator(), nullptr);
  ASSERT_NE(StartWorker("a"), nullptr);
  const std::string grid = WriteFile(
      "stats.yaml", TinyGrid("stats", "  - none\n  - name: rtn\n    bits: 3\n    group_size: 32\n",
                             "  - name: boolq\n    limit: 40\n"
                             "  - name: ppl\n    dataset: tinystories\n    context: 256\n    limit: 4\n"));
  absl::StatusOr<int64_t> sweep = Submit(grid);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_TRUE(WaitForSweep(*sweep, absl::Seconds(120)).ok());
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=4");

  // Stored: one blob of per-example scores per result (40 questions, 4 windows), and the
  // headline metrics' intervals beside their values, bracketing them.
  const DbReader db = Db();
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM example_scores WHERE examples = 40"), 2);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM example_scores WHERE examples = 4"), 2);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM metrics WHERE name IN ('accuracy', 'ppl') "
                     "AND ci_low <= value AND value <= ci_high AND ci_low < ci_high"),
            4);

  const CommandResult results =
      Coord({"results", absl::StrCat(*sweep), "--ci", "--delta", "--format=json"});
  ASSERT_EQ(results.code(), 0) << results.err;
  const nlohmann::json rows = nlohmann::json::parse(results.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << results.out;
  ASSERT_EQ(rows.size(), 2u) << results.out;
  for (const nlohmann::json& row : rows) {
    const bool baseline = row["method"] == "none";
    for (const std::string column : {"boolq acc", "ppl"}) {
      ASSERT_TRUE(row.contains(column)) << row.dump();
      const double value = row[column].get<double>();
      // Rounded to 4 significant digits, as the value is.
      EXPECT_LE(row[column + " ci_low"].get<double>(), value * (1 + 1e-3)) << row.dump();
      EXPECT_GE(row[column + " ci_high"].get<double>(), value * (1 - 1e-3)) << row.dump();
      const std::string delta = column == "ppl" ? "ppl delta (%)" : column + " delta";
      for (const std::string field : {delta, column + " delta_ci_low", column + " delta_ci_high",
                                      column + " p_value"}) {
        ASSERT_TRUE(row.contains(field)) << field << " in " << row.dump();
        EXPECT_EQ(row[field].is_number(), !baseline) << field << " in " << row.dump();
      }
    }
  }
  const nlohmann::json& rtn = rows[1];
  EXPECT_EQ(rtn["method"], "rtn");
  EXPECT_LE(rtn["boolq acc delta_ci_low"].get<double>(), rtn["boolq acc delta"].get<double>());
  EXPECT_GE(rtn["boolq acc delta_ci_high"].get<double>(), rtn["boolq acc delta"].get<double>());
  EXPECT_GE(rtn["boolq acc p_value"].get<double>(), 0.0);
  EXPECT_LE(rtn["boolq acc p_value"].get<double>(), 1.0);
  // 3-bit RTN of a 260K-parameter model raises perplexity on every window.
  EXPECT_GT(rtn["ppl delta_ci_low"].get<double>(), 0.0) << rtn.dump();

  const CommandResult markdown = Coord({"results", absl::StrCat(*sweep), "--ci", "--delta"});
  ASSERT_EQ(markdown.code(), 0) << markdown.err;
  EXPECT_TRUE(absl::StrContains(markdown.out, "] p")) << markdown.out;
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
