// Jobs that fail and callers that are refused: a job process that crashes (or fails
// transiently) on every attempt, and a coordinator that requires a token.
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

class E2eFailureTest : public E2eTest {};

using Rows = std::vector<std::vector<std::string>>;

// The workers' job command: the real `llmq-worker run-job`, except for jobs whose spec
// (binary proto, where a dataset path appears verbatim) names a marked dataset. No test
// hook in the product: this is the documented --job-command override.
std::string JobScript(const std::string& worker) {
  return absl::StrCat(R"(#!/bin/sh
ulimit -c 0
spec=
for arg in "$@"; do
  case "$arg" in --spec-file=*) spec=${arg#--spec-file=} ;; esac
done
if grep -aq crash-segv "$spec"; then kill -SEGV $$; fi
if grep -aq fail-transient "$spec"; then
  echo "LLMQ-ERROR: injected transient failure" >&2
  exit 12
fi
exec )", worker, R"( run-job "$@"
)");
}

// state, error_class, attempts, failures, error of the jobs whose task names `marker`.
Rows MarkedJobs(const DbReader& db, const std::string& marker) {
  return db.Rows(absl::StrCat("SELECT state, error_class, attempts, failures, error FROM jobs "
                              "WHERE task_params LIKE '%", marker, "%' ORDER BY id"))
      .value_or(Rows{});
}

TEST_F(E2eFailureTest, CrashingJobFailsWithItsErrorAndTheOtherJobsSucceed) {
  const std::string script = WriteFile("job.sh", JobScript(WorkerBinary()));
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  // Marked datasets: real text (the job key hashes their contents, so they differ).
  const std::string crash = WriteFile("crash-segv.txt", "Once upon a time there was a crash.\n");
  const std::string flaky = WriteFile("fail-transient.txt", "Once upon a time it failed.\n");
  ASSERT_NE(StartCoordinator(), nullptr);
  for (const char* name : {"a", "b"}) {
    ASSERT_NE(StartWorker(name, {absl::StrCat("--job-command=", script)}), nullptr);
  }
  // 2 methods x 3 tasks; max_attempts 2.
  const std::string grid = WriteFile(
      "grid.yaml",
      TinyGrid("failures", "  - none\n  - {name: rtn, bits: 4, group_size: 32}\n",
               absl::StrCat("  - {name: ppl, dataset: tinystories, context: 128, limit: 2}\n"
                            "  - {name: ppl, dataset: ", crash, ", context: 128, limit: 2}\n"
                            "  - {name: ppl, dataset: ", flaky, ", context: 128, limit: 2}\n"),
               "max_attempts: 2\n"));
  absl::StatusOr<int64_t> sweep = Submit(grid);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  // The transient failures wait out one retry backoff (5 s) before their second attempt.
  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(120));
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(StateCounts(*sweep), "FAILED=4 SUCCEEDED=2");
  const DbReader db = Db();

  // A job that crashes its process every time is retried until max_attempts (a crash may
  // be the machine's fault), then fails keeping the error text.
  const Rows crashed = MarkedJobs(db, "crash-segv");
  ASSERT_EQ(crashed.size(), 2u);
  for (const auto& job : crashed) {
    EXPECT_EQ(job[0], "FAILED");
    EXPECT_EQ(job[1], "CRASHED");
    EXPECT_EQ(job[2], "2");
    EXPECT_EQ(job[3], "2");
    EXPECT_TRUE(absl::StartsWith(job[4], "job process crashed with SIGSEGV")) << job[4];
  }
  // A transient failure is retried until max_attempts, then the job fails with its error.
  const Rows flaked = MarkedJobs(db, "fail-transient");
  ASSERT_EQ(flaked.size(), 2u);
  for (const auto& job : flaked) {
    EXPECT_EQ(job[0], "FAILED");
    EXPECT_EQ(job[1], "TRANSIENT");
    EXPECT_EQ(job[2], "2");
    EXPECT_EQ(job[3], "2");
    EXPECT_TRUE(absl::StrContains(job[4], "job process failed (exit 12): injected transient "
                                          "failure"))
        << job[4];
  }
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM attempts WHERE outcome = 'FAILED'"), 2 * 2 + 2 * 2);
  // The unmarked jobs are untouched: one attempt, one result each.
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM jobs j JOIN results r ON r.job_id = j.id WHERE "
                     "j.state = 'SUCCEEDED' AND j.attempts = 1 AND j.task_params LIKE "
                     "'%tinystories%'"),
            2);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM results"), 2);

  // What a user sees.
  const CommandResult jobs = Coord({"jobs", absl::StrCat("--sweep=", *sweep), "--state=FAILED"});
  EXPECT_EQ(jobs.code(), 0) << jobs.err;
  EXPECT_TRUE(absl::StrContains(jobs.out, "SIGSEGV")) << jobs.out;
  EXPECT_TRUE(absl::StrContains(jobs.out, "injected transient failure")) << jobs.out;
}

TEST_F(E2eFailureTest, CoordinatorWithATokenRefusesMissingAndWrongTokens) {
  const std::string token = WriteFile("token", "e2e-secret-token\n");
  const std::string wrong = WriteFile("wrong-token", "not-the-token\n");
  ASSERT_NE(StartCoordinator({absl::StrCat("--token-file=", token)}), nullptr);
  const std::string grid = WriteFile(
      "grid.yaml", TinyGrid("token", "  - none\n",
                            "  - {name: ppl, dataset: tinystories, context: 128, limit: 2}\n"));
  const DbReader db = Db();

  CommandResult refused = Coord({"submit", grid});
  EXPECT_EQ(refused.code(), 1) << refused.err;
  EXPECT_TRUE(absl::StrContains(refused.err, "missing 'authorization: Bearer <token>'"))
      << refused.err;
  client_flags_ = {absl::StrCat("--token-file=", wrong)};
  refused = Coord({"submit", grid});
  EXPECT_EQ(refused.code(), 1) << refused.err;
  EXPECT_TRUE(absl::StrContains(refused.err, "wrong token")) << refused.err;
  refused = Coord({"status"});
  EXPECT_EQ(refused.code(), 1) << refused.err;
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM sweeps"), 0);

  client_flags_ = {absl::StrCat("--token-file=", token)};
  absl::StatusOr<int64_t> sweep = Submit(grid);
  ASSERT_TRUE(sweep.ok()) << sweep.status();

  // Workers without the token are refused at registration and stop; the job waits.
  Process* anonymous = StartWorker("anonymous");
  Process* intruder = StartWorker("intruder", {absl::StrCat("--token-file=", wrong)});
  ASSERT_TRUE(anonymous != nullptr && intruder != nullptr);
  for (Process* worker : {anonymous, intruder}) {
    const absl::optional<ExitInfo> exit = worker->Wait(absl::Seconds(30));
    ASSERT_TRUE(exit.has_value()) << worker->Stderr();
    EXPECT_EQ(exit->ToString(), "exit 1");
    EXPECT_TRUE(absl::StrContains(worker->Stderr(), "refused this worker")) << worker->Stderr();
  }
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM workers"), 0);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM attempts"), 0);
  EXPECT_EQ(StateCounts(*sweep), "PENDING=1");

  ASSERT_NE(StartWorker("trusted", {absl::StrCat("--token-file=", token)}), nullptr);
  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(90));
  ASSERT_TRUE(done.ok()) << done;
  ExpectEachJobRecordedOnce(*sweep, 1);
  const CommandResult status = Coord({"status", absl::StrCat(*sweep)});
  EXPECT_EQ(status.code(), 0) << status.err;
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
