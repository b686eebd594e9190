// The daemon when things around it go wrong: the coordinator goes away and comes back,
// the daemon is drained or stopped, a previous daemon left reports and jobs behind.
#include <memory>

#include "gtest/gtest.h"
#include "worker/spool.h"
#include "worker/testing/daemon_fixture.h"
#include "worker/worker_daemon.h"

namespace llmq {
namespace {

using testing::WaitFor;

class WorkerResilienceTest : public testing::DaemonTest {
 protected:
  bool JobRunning() {
    return WaitFor([this] { return !fake_.heartbeats().empty() && ChildPid() != 0; });
  }
};

TEST_F(WorkerResilienceTest, ReportStaysSpooledWhileCoordinatorIsDownAndIsResentAfter) {
  const v1::JobResult expected = WriteExpectedResult();
  fake_.AddLease(12, Spec());
  StartDaemon(Config(JobScript(WaitForRelease() + "\ncp \"$DIR/expected.pb\" \"$RESULT\"")));
  ASSERT_TRUE(JobRunning());

  server_.Stop();
  Release();  // the job finishes while nobody listens
  ASSERT_TRUE(WaitFor([this] { return SpooledReports() == 1; }));
  absl::SleepFor(absl::Milliseconds(600));  // several failed retries
  EXPECT_EQ(SpooledReports(), 1u);
  EXPECT_TRUE(fake_.reports().empty());

  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(WaitFor([this] { return fake_.reports().size() == 1 && SpooledReports() == 0; }));
  const v1::ReportRequest report = fake_.reports()[0];
  EXPECT_EQ(report.outcome(), v1::REPORT_SUCCEEDED);
  EXPECT_EQ(report.lease_id(), "lease-12-1");
  EXPECT_EQ(report.result().SerializeAsString(), expected.SerializeAsString());
  const std::vector<v1::RegisterRequest> registers = fake_.registers();
  ASSERT_GE(registers.size(), 2u);
  EXPECT_EQ(registers.back().worker_id(), "worker-1");  // same identity after the outage

  daemon_->RequestDrain();
  ASSERT_TRUE(JoinDaemon());
  EXPECT_TRUE(status_.ok()) << status_;
}

TEST_F(WorkerResilienceTest, DrainHandsBackAJobThatOutlastsTheGracePeriod) {
  fake_.AddLease(12, Spec());
  StartDaemon(Config(JobScript("sleep 30")));  // drain_grace is 300 ms
  ASSERT_TRUE(JobRunning());
  const absl::Time start = absl::Now();
  daemon_->RequestDrain();
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_TRUE(status_.ok()) << status_;
  const std::vector<v1::ReportRequest> reports = fake_.reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), v1::REPORT_RETURNED);
  EXPECT_EQ(reports[0].error_class(), v1::PREEMPTED);
  EXPECT_TRUE(ChildGone());
  EXPECT_EQ(SpooledReports(), 0u);
  EXPECT_EQ(fake_.deregisters(), 1);
}

TEST_F(WorkerResilienceTest, DrainLetsAJobFinishWithinTheGracePeriod) {
  WriteExpectedResult();
  WorkerConfig config =
      Config(JobScript(WaitForRelease() + "\ncp \"$DIR/expected.pb\" \"$RESULT\""));
  config.drain_grace = absl::Seconds(10);
  fake_.AddLease(12, Spec());
  fake_.AddLease(13, Spec());  // must not be leased once draining
  StartDaemon(std::move(config));
  ASSERT_TRUE(JobRunning());
  daemon_->RequestDrain();
  absl::SleepFor(absl::Milliseconds(200));
  Release();
  ASSERT_TRUE(JoinDaemon());
  const std::vector<v1::ReportRequest> reports = fake_.reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), v1::REPORT_SUCCEEDED);
  EXPECT_EQ(fake_.leases().size(), 1u);
  EXPECT_EQ(fake_.deregisters(), 1);
}

TEST_F(WorkerResilienceTest, StopNowKillsTheJobWithoutWaitingForGrace) {
  WorkerConfig config = Config(JobScript("sleep 30"));
  config.drain_grace = absl::Seconds(30);
  fake_.AddLease(12, Spec());
  StartDaemon(std::move(config));
  ASSERT_TRUE(JobRunning());
  const absl::Time start = absl::Now();
  daemon_->RequestDrain();
  daemon_->RequestStopNow();
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].outcome(), v1::REPORT_RETURNED);
  EXPECT_TRUE(ChildGone());
}

TEST_F(WorkerResilienceTest, DrainEndsTheLeaseLongPoll) {
  WorkerConfig config = Config(JobScript("exit 0"));
  config.lease_wait = absl::Seconds(30);
  StartDaemon(std::move(config));
  ASSERT_TRUE(WaitFor([this] { return !fake_.leases().empty(); }));
  const absl::Time start = absl::Now();
  daemon_->RequestDrain();
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_EQ(fake_.deregisters(), 1);
}

TEST_F(WorkerResilienceTest, SpooledReportsAreSentBeforeAnyLease) {
  {
    auto spool = WorkerSpool::Open(JoinPath(dir_, "spool"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    v1::ReportRequest report;
    report.set_worker_id("worker-1");
    report.set_lease_id("lease-7-2");
    report.set_job_id(7);
    report.set_attempt(2);
    report.set_outcome(v1::REPORT_FAILED);
    report.set_error_class(v1::TRANSIENT);
    ASSERT_TRUE((*spool)->PutReport(WorkerSpool::JobName(7, 2), report).ok());
    ASSERT_TRUE((*spool)->SaveWorkerId("worker-1").ok());
  }  // unlocks the spool
  fake_.SetReportStatus(v1::STALE);  // too late: still removed from the spool
  WorkerConfig config = Config(JobScript("exit 0"));
  config.exit_when_idle = absl::Seconds(1);
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon());
  const std::vector<std::string> calls = fake_.calls();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[0], "Register");
  EXPECT_EQ(calls[1], "Report");
  EXPECT_EQ(calls[2], "Lease");
  EXPECT_EQ(fake_.registers()[0].worker_id(), "worker-1");
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].lease_id(), "lease-7-2");
  EXPECT_EQ(SpooledReports(), 0u);
}

TEST_F(WorkerResilienceTest, JobsInterruptedByADaemonCrashAreReportedOnRestart) {
  v1::JobResult result;
  result.add_metrics()->set_name("accuracy");
  {
    auto spool = WorkerSpool::Open(JoinPath(dir_, "spool"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    for (int64_t job : {21, 22}) {
      v1::ReportRequest ticket;
      ticket.set_worker_id("worker-1");
      ticket.set_lease_id(absl::StrCat("lease-", job, "-1"));
      ticket.set_job_id(job);
      ticket.set_attempt(1);
      const std::string name = WorkerSpool::JobName(job, 1);
      ASSERT_TRUE((*spool)->BeginJob(name, ticket, Spec()).ok());
      if (job == 22) {  // this one finished before the daemon died
        ASSERT_TRUE(WriteFileAtomically((*spool)->ResultPath(name),
                                        result.SerializeAsString()).ok());
      }
    }
  }
  WorkerConfig config = Config(JobScript("exit 0"));
  config.exit_when_idle = absl::Seconds(1);
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon());
  const std::vector<v1::ReportRequest> reports = fake_.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].job_id(), 21);
  EXPECT_EQ(reports[0].outcome(), v1::REPORT_RETURNED);
  EXPECT_EQ(reports[0].error_class(), v1::WORKER_LOST);
  EXPECT_EQ(reports[1].job_id(), 22);
  EXPECT_EQ(reports[1].outcome(), v1::REPORT_SUCCEEDED);
  EXPECT_EQ(reports[1].result().metrics(0).name(), "accuracy");
  EXPECT_EQ(SpooledReports(), 0u);
  daemon_.reset();  // unlocks the spool
  auto spool = WorkerSpool::Open(JoinPath(dir_, "spool"));
  ASSERT_TRUE(spool.ok());
  EXPECT_TRUE((*spool)->InterruptedJobs().empty());
}

TEST_F(WorkerResilienceTest, WorkerStartsWhileTheCoordinatorIsDown) {
  server_.Stop();
  WriteExpectedResult();
  fake_.AddLease(12, Spec());
  WorkerConfig config = Config(JobScript("cp \"$DIR/expected.pb\" \"$RESULT\""));
  config.max_jobs = 1;
  StartDaemon(std::move(config));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(finished());
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(JoinDaemon());
  EXPECT_TRUE(status_.ok()) << status_;
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].outcome(), v1::REPORT_SUCCEEDED);
}

TEST_F(WorkerResilienceTest, IdleLimitAlsoEndsAWorkerWhoseCoordinatorIsGone) {
  server_.Stop();
  WorkerConfig config = Config(JobScript("exit 0"));
  config.exit_when_idle = absl::Seconds(1);
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_TRUE(status_.ok()) << status_;
}

}  // namespace
}  // namespace llmq
