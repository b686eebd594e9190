// Processes that die or are stopped mid-sweep: a worker killed with SIGKILL, the
// coordinator killed with SIGKILL and restarted on the same database, a worker drained
// with SIGTERM. Nothing may be lost, nothing recorded twice.
//
// Unit-level fencing (a report under an expired or foreign lease is STALE, the same
// report twice is a DUPLICATE) is covered beside the scheduler, not repeated here:
// coordinator/scheduler_test.cc (SchedulerTest.SameReportTwiceIsDuplicate,
// ReportUnderExpiredLeaseIsStaleAndTheJobReturns, ReportUnderForeignLeaseIsStale) and
// coordinator/services_test.cc (CoordServiceTest.SubmitLeaseAndFencedReportOverTheWire).
#include <signal.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

class E2eFaultTest : public E2eTest {};

using Rows = std::vector<std::vector<std::string>>;

// Two jobs: first (so leased first) a ppl run of 96 windows that takes a few seconds even
// on a quiet machine (it is stopped while it runs), then a quick one.
std::string SlowGrid(absl::string_view name) {
  return TinyGrid(name, "  - none\n",
                  "  - {name: ppl, dataset: tinystories, context: 256, limit: 96}\n"
                  "  - {name: ppl, dataset: wikitext2, context: 128, limit: 2}\n");
}

// The attempts of a job: attempt, worker_id, outcome, error_class, leased_ms.
Rows Attempts(const DbReader& db, int64_t job_id) {
  return db.Rows(absl::StrCat("SELECT attempt, worker_id, outcome, error_class, leased_ms "
                              "FROM attempts WHERE job_id = ", job_id, " ORDER BY attempt"))
      .value_or(Rows{});
}

int64_t ToInt(const std::string& text) {
  int64_t value = -1;
  return absl::SimpleAtoi(text, &value) ? value : -1;
}

// The pid of the job process a worker log names in "job started job=<id> attempt=1 pid=N".
pid_t JobProcessPid(const std::string& log, int64_t job_id) {
  const std::string marker = absl::StrCat("job started job=", job_id, " attempt=1 pid=");
  const size_t at = log.find(marker);
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(ToInt(log.substr(at + marker.size(), log.find('\n', at) -
                                                                     at - marker.size())));
}

// Whether `pid` has ended (a zombie no one reaped counts: it runs nothing).
bool HasEnded(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat")).value_or("");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

TEST_F(E2eFaultTest, WorkerKilledMidJobLosesTheLeaseAndAnotherWorkerFinishesTheJob) {
  ASSERT_NE(StartCoordinator(), nullptr);
  Process* a = StartWorker("a");
  ASSERT_NE(a, nullptr);
  absl::StatusOr<int64_t> sweep = Submit(WriteFile("grid.yaml", SlowGrid("kill-worker")));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<int64_t> job = WaitForJobRunning("a", absl::Seconds(60));
  ASSERT_TRUE(job.ok()) << job.status() << " (" << StateCounts(*sweep) << ")";
  const std::string a_id = WorkerId("a");
  const pid_t job_pid = JobProcessPid(a->Stderr(), *job);
  ASSERT_GT(job_pid, 0) << a->Stderr();
  const int64_t killed_ms = absl::ToUnixMillis(absl::Now());
  a->KillGroup(SIGKILL);
  // The job process, in a process group of its own, dies with its daemon.
  EXPECT_TRUE(WaitFor([&] { return HasEnded(job_pid); }, absl::Seconds(10),
                      "the killed worker's job process to end")
                  .ok());

  ASSERT_NE(StartWorker("b"), nullptr);
  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(120));
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=2");
  ExpectEachJobRecordedOnce(*sweep, 2);

  const DbReader db = Db();
  const std::string b_id = WorkerId("b");
  const Rows attempts = Attempts(db, *job);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0], (std::vector<std::string>{"1", a_id, "EXPIRED", "WORKER_LOST",
                                                   attempts[0][4]}));
  EXPECT_EQ(attempts[1], (std::vector<std::string>{"2", b_id, "SUCCEEDED", "", attempts[1][4]}));
  // Not leased again before the lease ran out: a lease TTL (5 s) after the last heartbeat
  // (at most 1 s before the kill), less a second of slack for the test's own polling.
  EXPECT_GE(ToInt(attempts[1][4]) - killed_ms, 3000);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT worker_deaths * 10 + failures FROM jobs WHERE id = ",
                                  *job)),
            10)
      << "one worker death, no charged failure";
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT attempt FROM results WHERE job_id = ", *job)), 2);
}

TEST_F(E2eFaultTest, CoordinatorKilledMidSweepRestartsOnItsDatabaseAndLosesNothing) {
  ASSERT_NE(StartCoordinator(), nullptr);
  Process* a = StartWorker("a");
  Process* b = StartWorker("b");
  ASSERT_TRUE(a != nullptr && b != nullptr);
  ASSERT_TRUE(WaitFor([&] { return !WorkerId("a").empty() && !WorkerId("b").empty(); },
                      absl::Seconds(30), "both workers to register")
                  .ok());
  // 8 quick jobs: 4 methods x 2 ppl tasks.
  const std::string grid = WriteFile(
      "grid.yaml",
      TinyGrid("kill-coordinator",
               "  - none\n  - {name: rtn, bits: [4, 3], group_size: 32}\n"
               "  - {name: rtn, bits: 4, group_size: -1}\n",
               "  - {name: ppl, dataset: tinystories, context: 256, limit: 4}\n"
               "  - {name: ppl, dataset: wikitext2, context: 256, limit: 2}\n"));
  absl::StatusOr<int64_t> sweep = Submit(grid);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  const DbReader db = Db();
  // Mid-sweep: some results in, and both workers running a job (so that at least one is
  // still running when the coordinator dies, even if the other just finished).
  ASSERT_TRUE(WaitFor(
                  [&] {
                    return db.IntOr("SELECT COUNT(*) FROM results") >= 2 &&
                           db.IntOr("SELECT COUNT(*) FROM jobs WHERE state = 'RUNNING'") == 2;
                  },
                  absl::Seconds(60), "two results and two running jobs")
                  .ok())
      << StateCounts(*sweep);
  const int64_t killed_ms = absl::ToUnixMillis(absl::Now());
  coordinator()->KillGroup(SIGKILL);

  // The running jobs finish meanwhile; their reports wait in the workers' spools.
  ASSERT_TRUE(WaitFor([&] { return SpooledReports("a") + SpooledReports("b") >= 1; },
                      absl::Seconds(30), "a report spooled while the coordinator is down")
                  .ok());
  const int64_t restarted_ms = absl::ToUnixMillis(absl::Now());
  // A lease TTL long enough that every worker is back (its backoff tops out at a few
  // seconds after an outage this short) before the re-armed leases could expire.
  ASSERT_NE(StartCoordinator({"--lease_ttl=20s"}), nullptr);

  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(120));
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=8");
  ExpectEachJobRecordedOnce(*sweep, 8);
  // At least one result came from a lease granted before the kill, recorded after the
  // restart: a spooled report, accepted under its re-armed lease.
  EXPECT_GE(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM results r JOIN attempts a ON "
                                  "a.job_id = r.job_id AND a.attempt = r.attempt WHERE "
                                  "a.leased_ms < ", killed_ms, " AND r.finished_ms > ",
                                  restarted_ms)),
            1);
  EXPECT_TRUE(WaitFor([&] { return SpooledReports("a") + SpooledReports("b") == 0; },
                      absl::Seconds(10), "the spools to empty")
                  .ok());
  EXPECT_TRUE(a->Running() && b->Running()) << "workers ride out a coordinator outage";
}

TEST_F(E2eFaultTest, SigtermDrainsAWorkerThatHandsItsJobBackAndExitsZero) {
  ASSERT_NE(StartCoordinator(), nullptr);
  // No drain grace: the job is handed back at once rather than finished.
  Process* a = StartWorker("a", {"--drain-seconds=0"});
  ASSERT_NE(a, nullptr);
  absl::StatusOr<int64_t> sweep = Submit(WriteFile("grid.yaml", SlowGrid("drain")));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<int64_t> job = WaitForJobRunning("a", absl::Seconds(60));
  ASSERT_TRUE(job.ok()) << job.status() << " (" << StateCounts(*sweep) << ")";
  const std::string a_id = WorkerId("a");

  a->Signal(SIGTERM);
  const absl::optional<ExitInfo> exit = a->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.has_value()) << "the worker did not exit after SIGTERM";
  EXPECT_TRUE(exit->Succeeded()) << exit->ToString();

  const DbReader db = Db();
  // Handed back at once, not charged, and back in the queue: nothing waits for a TTL.
  Rows attempts = Attempts(db, *job);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0][1], a_id);
  EXPECT_EQ(attempts[0][2], "RETURNED");
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM jobs WHERE id = ", *job,
                                  " AND state = 'PENDING' AND failures = 0")),
            1);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM workers WHERE id = '", a_id,
                                  "' AND state = 'gone'")),
            1)
      << "a drained worker deregisters";

  ASSERT_NE(StartWorker("b"), nullptr);
  const absl::Status done = WaitForSweep(*sweep, absl::Seconds(120));
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(StateCounts(*sweep), "SUCCEEDED=2");
  ExpectEachJobRecordedOnce(*sweep, 2);
  attempts = Attempts(db, *job);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1][1], WorkerId("b"));
  EXPECT_EQ(attempts[1][2], "SUCCEEDED");
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
