// `llmq-coord workers` as operators read it: what real worker daemons registered, the
// Slurm job each runs in included (read by the worker from its environment).
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

class E2eWorkersTest : public E2eTest {};

using TableRows = std::vector<std::map<std::string, std::string>>;

TEST_F(E2eWorkersTest, SlurmIdsFromTheWorkersEnvironmentShowInTheWorkersTable) {
  ASSERT_NE(StartCoordinator(), nullptr);
  // As Slurm sets them for task 3 of array job 7001, itself job 7004.
  ASSERT_NE(StartWorker("in-slurm", {},
                        {"SLURM_JOB_ID=7004", "SLURM_ARRAY_JOB_ID=7001",
                         "SLURM_ARRAY_TASK_ID=3"}),
            nullptr);
  // A job outside an array, and a worker outside Slurm (whatever the test's environment).
  // (env's options come before its assignments.)
  ASSERT_NE(StartWorker("plain-job", {}, {"-u", "SLURM_ARRAY_JOB_ID", "-u",
                                         "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID=812"}),
            nullptr);
  ASSERT_NE(StartWorker("outside", {}, {"-u", "SLURM_JOB_ID"}), nullptr);
  ASSERT_TRUE(WaitFor(
                  [&] {
                    return !WorkerId("in-slurm").empty() && !WorkerId("plain-job").empty() &&
                           !WorkerId("outside").empty();
                  },
                  absl::Seconds(30), "three workers to register")
                  .ok());

  const CommandResult run = Coord({"workers"});
  ASSERT_EQ(run.code(), 0) << run.err;
  const TableRows rows = MarkdownTableRows(run.out);
  ASSERT_EQ(rows.size(), 3u) << run.out;
  std::map<std::string, std::map<std::string, std::string>> by_worker;
  for (const auto& row : rows) by_worker[row.at("worker")] = row;
  const auto& in_slurm = by_worker[WorkerId("in-slurm")];
  const auto& plain_job = by_worker[WorkerId("plain-job")];
  const auto& outside = by_worker[WorkerId("outside")];
  ASSERT_EQ(in_slurm.count("slurm job"), 1u) << run.out;
  EXPECT_EQ(in_slurm.at("slurm job"), "7004") << run.out;
  EXPECT_EQ(in_slurm.at("array task"), "7001_3") << run.out;
  EXPECT_EQ(plain_job.at("slurm job"), "812") << run.out;
  EXPECT_EQ(plain_job.at("array task"), "-") << run.out;
  EXPECT_EQ(outside.at("slurm job"), "-") << run.out;
  EXPECT_EQ(outside.at("array task"), "-") << run.out;

  // The database holds them as numbers an analyst can join on, NULL outside Slurm.
  EXPECT_EQ(Db().IntOr(absl::StrCat("SELECT slurm_array_task_id FROM workers WHERE id = '",
                                    WorkerId("in-slurm"), "' AND slurm_job_id = 7004 AND "
                                    "slurm_array_job_id = 7001")),
            3);
  EXPECT_EQ(Db().IntOr(absl::StrCat("SELECT COUNT(*) FROM workers WHERE id = '",
                                    WorkerId("outside"), "' AND slurm_job_id IS NULL")),
            1);
}

TEST_F(E2eWorkersTest, WorkersTableHasNoSlurmColumnsWithoutSlurm) {
  ASSERT_NE(StartCoordinator(), nullptr);
  ASSERT_NE(StartWorker("outside", {}, {"-u", "SLURM_JOB_ID"}), nullptr);
  ASSERT_TRUE(WaitFor([&] { return !WorkerId("outside").empty(); }, absl::Seconds(30),
                      "the worker to register")
                  .ok());
  const CommandResult run = Coord({"workers"});
  ASSERT_EQ(run.code(), 0) << run.err;
  const TableRows rows = MarkdownTableRows(run.out);
  ASSERT_EQ(rows.size(), 1u) << run.out;
  EXPECT_EQ(rows[0].count("slurm job"), 0u) << run.out;
  EXPECT_EQ(rows[0].at("worker"), WorkerId("outside")) << run.out;
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
