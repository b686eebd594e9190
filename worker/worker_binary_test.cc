// The real llmq-worker binary: as the job process the daemon starts (run-job), and as a
// daemon that drains on SIGTERM. Skipped when LLMQ_BUILD_DIR (set by ctest) is unknown.
#include <signal.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "worker/child_process.h"
#include "worker/testing/daemon_fixture.h"

namespace llmq {
namespace {

using testing::WaitFor;

class WorkerBinaryTest : public testing::DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    const char* build_dir = std::getenv("LLMQ_BUILD_DIR");
    if (build_dir != nullptr) binary_ = JoinPath(build_dir, "worker/llmq-worker");
    if (binary_.empty() || !FileExists(binary_)) {
      GTEST_SKIP() << "llmq-worker binary not found (run through ctest)";
    }
  }
  std::string binary_;
};

TEST_F(WorkerBinaryTest, RunJobChildReportsAPipelineFailureAsDeterministic) {
  WorkerConfig config = Config({binary_, "run-job"});
  config.max_jobs = 1;
  fake_.AddLease(12, Spec());  // no model path: the pipeline refuses it
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(30)));
  ASSERT_EQ(fake_.reports().size(), 1u);
  const v1::ReportRequest report = fake_.reports()[0];
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::DETERMINISTIC);
  EXPECT_TRUE(absl::StrContains(report.error(), "job process failed (exit 10): "))
      << report.error();
}

TEST_F(WorkerBinaryTest, DaemonDrainsOnSigtermHandsBackItsJobAndExitsZero) {
  const std::vector<std::string> job = JobScript("sleep 30");
  fake_.AddLease(12, Spec());
  ChildProcessOptions quiet;
  quiet.forward_stderr = false;
  auto daemon = ChildProcess::Start(
      {binary_, absl::StrCat("--coordinator=", server_.address()),
       absl::StrCat("--spool=", JoinPath(dir_, "spool")),
       absl::StrCat("--job-command=", job[0], " ", job[1]), "--drain-seconds=0",
       "--token-file=/dev/null"},
      quiet);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::vector<std::string> lines;
  // An empty token file is refused at once.
  absl::optional<ChildExit> exit;
  for (int i = 0; i < 500 && !exit; ++i) exit = (*daemon)->Poll(absl::Milliseconds(10), &lines);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 2);

  daemon = ChildProcess::Start(
      {binary_, absl::StrCat("--coordinator=", server_.address()),
       absl::StrCat("--spool=", JoinPath(dir_, "spool")),
       absl::StrCat("--job-command=", job[0], " ", job[1]), "--drain-seconds=0"},
      quiet);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(WaitFor([this] { return !fake_.heartbeats().empty() && ChildPid() != 0; }));
  ASSERT_EQ(::kill((*daemon)->pid(), SIGTERM), 0);
  exit.reset();
  for (int i = 0; i < 1000 && !exit; ++i) exit = (*daemon)->Poll(absl::Milliseconds(10), &lines);
  ASSERT_TRUE(exit.has_value()) << (*daemon)->StderrTail();
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->exit_code, 0) << (*daemon)->StderrTail();
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].outcome(), v1::REPORT_RETURNED);
  EXPECT_EQ(fake_.deregisters(), 1);
  EXPECT_TRUE(ProcessGone(ChildPid()));
}

}  // namespace
}  // namespace llmq
