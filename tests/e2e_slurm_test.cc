// llmq workers on Slurm, for real: a single-node cluster on this machine
// (scripts/slurm/local-cluster: munged, slurmctld, slurmd in a temporary directory), the
// worker array of scripts/slurm/llmq-workers.sbatch submitted with sbatch, and a sweep on
// the bundled model completed through it while one array task is scancelled and the other
// requeued, each mid-job. Nothing may be lost, nothing recorded twice.
//
// Skipped (with the reason) when Slurm is not installed (scripts/install-deps --slurm) or
// the test does not run as root (slurmd must, to start jobs).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

using Rows = std::vector<std::vector<std::string>>;

class E2eSlurmTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (::geteuid() != 0) GTEST_SKIP() << "not root: slurmd must run as root to start jobs";
    const CommandResult found = RunCommand(
        {"/bin/sh", "-c",
         "PATH=$PATH:/usr/sbin:/sbin; for c in sbatch squeue scancel scontrol slurmctld "
         "slurmd munged; do "
         "command -v $c >/dev/null || { echo $c; exit 1; }; done"},
        JoinPath(dir(), "which-slurm"), absl::Seconds(10));
    if (found.code() != 0) {
      GTEST_SKIP() << "Slurm is not installed (no "
                   << absl::StripAsciiWhitespace(found.out)
                   << " on PATH or in /usr/sbin): scripts/install-deps --slurm installs it";
    }
    // Apart from dir(): the munge socket's path must fit in a sockaddr_un.
    char cluster[] = "/tmp/llmq-slurm-XXXXXX";
    ASSERT_NE(::mkdtemp(cluster), nullptr);
    cluster_ = cluster;
    const CommandResult started =
        RunCommand({SourcePath("scripts/slurm/local-cluster"), "start", cluster_, "2"},
                   JoinPath(dir(), "cluster-start"), absl::Seconds(60));
    ASSERT_EQ(started.code(), 0) << started.exit.ToString() << "\n" << started.out << started.err;
  }

  void TearDown() override {
    if (!cluster_.empty()) {
      if (HasFailure()) DumpClusterLogs();
      const CommandResult stopped =
          RunCommand({SourcePath("scripts/slurm/local-cluster"), "stop", cluster_},
                     JoinPath(dir(), "cluster-stop"), absl::Seconds(120));
      EXPECT_EQ(stopped.code(), 0) << stopped.out << stopped.err;
      if (!HasFailure()) {
        std::error_code ignored;
        std::filesystem::remove_all(cluster_, ignored);
      } else {
        std::fprintf(stderr, "[slurm] cluster directory kept in %s\n", cluster_.c_str());
      }
    }
    E2eTest::TearDown();
  }

  // A Slurm client command against our cluster.
  CommandResult Slurm(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     absl::StrCat("SLURM_CONF=", cluster_, "/slurm.conf")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, JoinPath(dir(), absl::StrCat("slurm-", ++slurm_commands_)),
                      absl::Seconds(30));
  }

  // The array tasks of `array_job` squeue still lists ("12_0", "12_1").
  std::vector<std::string> QueuedTasks(int64_t array_job) {
    const CommandResult run = Slurm({"squeue", "--noheader", "--array", "--format=%i",
                                     absl::StrCat("--jobs=", array_job)});
    std::vector<std::string> tasks;
    for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipWhitespace())) {
      tasks.emplace_back(absl::StripAsciiWhitespace(line));
    }
    return tasks;
  }

  std::string TaskLog(int64_t array_job, int task) const {
    return ReadFile(absl::StrCat(cluster_, "/task-", array_job, "_", task, ".log")).value_or("");
  }

  const std::string& cluster() const { return cluster_; }

 private:
  void DumpClusterLogs() const {
    std::error_code error;
    for (const auto& directory : {cluster_, cluster_ + "/log"}) {
      for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
        if (entry.path().extension() != ".log") continue;
        const std::string text = ReadFile(entry.path().string()).value_or("");
        std::fprintf(stderr, "----- %s\n%s\n", entry.path().c_str(),
                     text.substr(text.size() > 3000 ? text.size() - 3000 : 0).c_str());
      }
    }
  }

  std::string cluster_;
  int slurm_commands_ = 0;
};

// The workers' rows of `llmq-coord workers`: worker id -> its "array task" cell.
std::map<std::string, std::string> ArrayTaskOfWorker(const std::string& table) {
  std::map<std::string, std::string> tasks;
  for (const auto& row : MarkdownTableRows(table)) {
    auto it = row.find("array task");
    tasks[row.at("worker")] = it == row.end() ? "(no column)" : it->second;
  }
  return tasks;
}

TEST_F(E2eSlurmTest, WorkerArrayCompletesASweepThroughScancelAndRequeue) {
  ASSERT_NE(StartCoordinator(), nullptr);
  // Two one-CPU tasks, each one worker; --drain-seconds=0: a stopped task hands its job
  // back at once instead of finishing it.
  const CommandResult submitted = Slurm(
      {"sbatch", "--parsable", "--array=0-1", "--cpus-per-task=1",
       absl::StrCat("--output=", cluster(), "/task-%A_%a.log"),
       absl::StrCat("--export=ALL,LLMQ_WORKER=", SourcePath(WorkerBinary()),
                    ",LLMQ_SPOOL_ROOT=", dir()),
       SourcePath("scripts/slurm/llmq-workers.sbatch"), absl::StrCat("--coordinator=", address()),
       "--drain-seconds=0"});
  // --parsable: "<job id>" or "<job id>;<cluster>".
  int64_t array_job = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(submitted.out.substr(0, submitted.out.find(';'))), &array_job))
      << submitted.exit.ToString() << "\n" << submitted.out << submitted.err;
  const auto task_name = [&](int task) { return absl::StrCat(array_job, "_", task); };

  const std::string registered = absl::StrCat(
      "SELECT COUNT(*) FROM workers WHERE state = 'active' AND slurm_array_job_id = ", array_job);
  ASSERT_TRUE(WaitFor([&] { return Db().IntOr(registered) == 2; }, absl::Seconds(60),
                      "both array tasks' workers to register")
                  .ok())
      << "squeue: " << absl::StrJoin(QueuedTasks(array_job), " ");

  // `llmq-coord workers` names each worker's Slurm job and array task.
  const CommandResult workers = Coord({"workers"});
  ASSERT_EQ(workers.code(), 0) << workers.err;
  const std::map<std::string, std::string> task_of_worker = ArrayTaskOfWorker(workers.out);
  std::vector<std::string> tasks;
  for (const auto& [worker, task] : task_of_worker) tasks.push_back(task);
  std::sort(tasks.begin(), tasks.end());
  EXPECT_EQ(tasks, (std::vector<std::string>{task_name(0), task_name(1)})) << workers.out;
  for (const auto& row : MarkdownTableRows(workers.out)) {
    int64_t slurm_job = 0;
    EXPECT_TRUE(absl::SimpleAtoi(row.at("slurm job"), &slurm_job) && slurm_job >= array_job)
        << workers.out;
  }

  // Three perplexity jobs of a few seconds each on stories260K.
  absl::StatusOr<int64_t> sweep = Submit(WriteFile(
      "grid.yaml",
      TinyGrid("slurm", "  - none\n  - {name: rtn, bits: [4, 3], group_size: 32}\n",
               "  - {name: ppl, dataset: tinystories, context: 256, limit: 64}\n")));
  ASSERT_TRUE(sweep.ok()) << sweep.status();

  // A job running on an array task's worker: (job id, worker id, array task id).
  const auto running_on = [&](const std::string& where) {
    Rows running;
    const absl::Status found = WaitFor(
        [&] {
          running = Db().Rows(absl::StrCat("SELECT j.id, w.id, w.slurm_array_task_id FROM jobs "
                                           "j JOIN workers w ON w.id = j.lease_worker WHERE "
                                           "j.state = 'RUNNING' AND w.state = 'active'",
                                           where, " ORDER BY j.id LIMIT 1"))
                        .value_or(Rows{});
          return !running.empty();
        },
        absl::Seconds(60), "a job to run");
    EXPECT_TRUE(found.ok()) << found << " (" << StateCounts(*sweep) << ")";
    return running.empty() ? std::vector<std::string>{} : running[0];
  };

  // scancel one array task under its running job.
  const std::vector<std::string> first = running_on("");
  ASSERT_EQ(first.size(), 3u);
  const std::string cancelled_job = first[0], cancelled_worker = first[1];
  const int cancelled_task = std::stoi(first[2]);
  const int requeued_task = 1 - cancelled_task;
  const CommandResult cancelled = Slurm({"scancel", task_name(cancelled_task)});
  ASSERT_EQ(cancelled.code(), 0) << cancelled.err;

  // Requeue the other under its running job: Slurm stops it (SIGTERM) and starts it again
  // on the same spool a few seconds later (the cluster's cred_expire).
  const std::vector<std::string> second =
      running_on(absl::StrCat(" AND w.slurm_array_task_id = ", requeued_task));
  ASSERT_EQ(second.size(), 3u);
  const std::string requeued_job = second[0], requeued_worker = second[1];
  const CommandResult requeued = Slurm({"scontrol", "requeue", task_name(requeued_task)});
  ASSERT_EQ(requeued.code(), 0) << requeued.err;

  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(150));
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=3");
  ExpectEachJobRecordedOnce(*sweep, 3);

  const DbReader db = Db();
  const auto attempts = [&](const std::string& job) {
    return db.Rows(absl::StrCat("SELECT worker_id, outcome FROM attempts WHERE job_id = ", job,
                                " ORDER BY attempt"))
        .value_or(Rows{});
  };
  // The cancelled worker handed its job back (not left to expire) and deregistered.
  const Rows cancelled_attempts = attempts(cancelled_job);
  ASSERT_GE(cancelled_attempts.size(), 2u);
  EXPECT_EQ(cancelled_attempts[0], (std::vector<std::string>{cancelled_worker, "RETURNED"}));
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM workers WHERE id = '", cancelled_worker,
                                  "' AND state = 'gone'")),
            1);
  // The requeued task handed its job back too, came back as the same worker (its spool
  // survived the requeue) and finished the sweep alone.
  const Rows requeued_attempts = attempts(requeued_job);
  ASSERT_GE(requeued_attempts.size(), 2u);
  EXPECT_EQ(requeued_attempts.back(), (std::vector<std::string>{requeued_worker, "SUCCEEDED"}));
  bool handed_back = false;
  for (const auto& attempt : requeued_attempts) {
    handed_back |= attempt == std::vector<std::string>{requeued_worker, "RETURNED"};
  }
  EXPECT_TRUE(handed_back);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM workers WHERE id = '", requeued_worker,
                                  "' AND state = 'active' AND slurm_array_task_id = ",
                                  requeued_task)),
            1);
  const std::string cancelled_log = TaskLog(array_job, cancelled_task);
  EXPECT_TRUE(absl::StrContains(cancelled_log, "signal=Terminated: draining")) << cancelled_log;
  const std::string requeued_log = TaskLog(array_job, requeued_task);  // both runs: append
  EXPECT_TRUE(absl::StrContains(requeued_log, "restart=0 ")) << requeued_log;
  EXPECT_TRUE(absl::StrContains(requeued_log, "restart=1 ")) << requeued_log;
  EXPECT_EQ(QueuedTasks(array_job), std::vector<std::string>{task_name(requeued_task)});

  // What Slurm sends before the time limit (--signal=B:USR1@120) drains the requeued task's
  // worker: it deregisters, exits 0 and the array ends.
  const CommandResult usr1 =
      Slurm({"scancel", "--signal=USR1", "--batch", task_name(requeued_task)});
  ASSERT_EQ(usr1.code(), 0) << usr1.err;
  EXPECT_TRUE(WaitFor([&] { return QueuedTasks(array_job).empty(); }, absl::Seconds(30),
                      "the drained task to end")
                  .ok());
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM workers WHERE state = 'gone' AND "
                                  "slurm_array_job_id = ", array_job)),
            2);
  const std::string drained_log = TaskLog(array_job, requeued_task);
  EXPECT_TRUE(absl::StrContains(drained_log, "signal=User defined signal 1: draining"))
      << drained_log;
  EXPECT_TRUE(absl::StrContains(drained_log, "worker stopped")) << drained_log;
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
