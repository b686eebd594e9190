#include "worker/spool.h"

#include <stdlib.h>

#include <filesystem>

#include "common/files.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

class WorkerSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  static v1::ReportRequest Report(int64_t job_id, int32_t attempt) {
    v1::ReportRequest report;
    report.set_job_id(job_id);
    report.set_attempt(attempt);
    report.set_lease_id(absl::StrCat("lease-", job_id));
    report.set_outcome(v1::REPORT_SUCCEEDED);
    return report;
  }

  const TempDir temp_{"llmq_spool_test"};
  const std::string dir_ = temp_.path();
};

TEST_F(WorkerSpoolTest, ReportsSurviveReopeningUntilRemoved) {
  {
    auto spool = WorkerSpool::Open(dir_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    ASSERT_TRUE((*spool)->PutReport(WorkerSpool::JobName(10, 1), Report(10, 1)).ok());
    ASSERT_TRUE((*spool)->PutReport(WorkerSpool::JobName(9, 2), Report(9, 2)).ok());
  }
  auto spool = WorkerSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  std::vector<WorkerSpool::PendingReport> pending = (*spool)->PendingReports();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].report.job_id(), 9);  // by job id, not by file name
  EXPECT_EQ(pending[0].name, "job9-a2");
  EXPECT_EQ(pending[1].report.lease_id(), "lease-10");
  ASSERT_TRUE((*spool)->RemoveReport("job9-a2").ok());
  ASSERT_EQ((*spool)->PendingReports().size(), 1u);
}

TEST_F(WorkerSpoolTest, SecondDaemonOnTheSameSpoolIsRefused) {
  auto first = WorkerSpool::Open(dir_);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(WorkerSpool::Open(dir_).status()));
  first->reset();
  EXPECT_TRUE(WorkerSpool::Open(dir_).ok());
}

TEST_F(WorkerSpoolTest, CorruptReportIsSetAsideNotSent) {
  auto spool = WorkerSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath((*spool)->reports_dir(), "job1-a1.pb"),
                                  "\xff\xff\xff not a proto").ok());
  EXPECT_TRUE((*spool)->PendingReports().empty());
  EXPECT_TRUE(FileExists(JoinPath((*spool)->reports_dir(), "job1-a1.pb.corrupt")));
}

TEST_F(WorkerSpoolTest, JobFilesComeAndGoAndATicketOutlivesACrash) {
  auto spool = WorkerSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  v1::JobSpec spec;
  spec.set_job_key("k");
  const std::string name = WorkerSpool::JobName(3, 1);
  ASSERT_TRUE((*spool)->BeginJob(name, Report(3, 1), spec).ok());
  EXPECT_TRUE(FileExists((*spool)->SpecPath(name)));
  std::vector<WorkerSpool::InterruptedJob> interrupted = (*spool)->InterruptedJobs();
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].ticket.lease_id(), "lease-3");
  EXPECT_FALSE(interrupted[0].result.has_value());
  (*spool)->EndJob(name);
  EXPECT_FALSE(FileExists((*spool)->SpecPath(name)));
  EXPECT_TRUE((*spool)->InterruptedJobs().empty());
}

TEST_F(WorkerSpoolTest, WorkerIdIsRemembered) {
  {
    auto spool = WorkerSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    EXPECT_EQ((*spool)->LoadWorkerId(), "");
    ASSERT_TRUE((*spool)->SaveWorkerId("w-42").ok());
  }
  auto spool = WorkerSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ((*spool)->LoadWorkerId(), "w-42");
}

}  // namespace
}  // namespace llmq
