// A job's life through the daemon, against a fake coordinator: success, and each way a
// job can end badly (crash, out of memory, timeout, cancel, lost lease).
#include "worker/worker_daemon.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "common/version.h"
#include "gtest/gtest.h"
#include "worker/testing/daemon_fixture.h"

namespace llmq {
namespace {

using testing::WaitFor;

class WorkerDaemonTest : public testing::DaemonTest {
 protected:
  // Runs one job to its report (max_jobs = 1) and returns that report.
  v1::ReportRequest RunOneJob(WorkerConfig config, const v1::JobSpec& spec) {
    config.max_jobs = 1;
    fake_.AddLease(12, spec);
    StartDaemon(std::move(config));
    EXPECT_TRUE(JoinDaemon());
    EXPECT_TRUE(status_.ok()) << status_;
    const std::vector<v1::ReportRequest> reports = fake_.reports();
    EXPECT_EQ(reports.size(), 1u);
    return reports.empty() ? v1::ReportRequest() : reports[0];
  }
};

TEST_F(WorkerDaemonTest, JobLifecycleRegistersHeartbeatsProgressAndReportsRecorded) {
  const v1::JobResult expected = WriteExpectedResult();
  WorkerConfig config = Config(JobScript(
      "progress quantize 3 16 'layer 3'\n"
      "sleep 0.4\n"
      "cp \"$DIR/expected.pb\" \"$RESULT\""));
  config.connection.token = "s3cret";
  const v1::ReportRequest report = RunOneJob(config, Spec());

  const std::vector<v1::RegisterRequest> registers = fake_.registers();
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].host(), "test-host");
  EXPECT_EQ(registers[0].devices_size(), 1);
  EXPECT_EQ(registers[0].memory_bytes(), int64_t{8} << 30);
  EXPECT_EQ(registers[0].labels().at("site"), "test");
  EXPECT_EQ(registers[0].version(), kLlmqVersion);
  EXPECT_EQ(registers[0].protocol_version(), kProtocolVersion);

  const std::vector<v1::HeartbeatRequest> heartbeats = fake_.heartbeats();
  ASSERT_FALSE(heartbeats.empty());
  EXPECT_EQ(heartbeats[0].worker_id(), "worker-1");
  EXPECT_EQ(heartbeats[0].lease_id(), "lease-12-1");
  EXPECT_TRUE(std::any_of(heartbeats.begin(), heartbeats.end(), [](const auto& beat) {
    return beat.progress().stage() == "quantize" && beat.progress().step() == 3 &&
           beat.progress().total() == 16 && beat.progress().message() == "layer 3";
  }));

  EXPECT_EQ(report.outcome(), v1::REPORT_SUCCEEDED);
  EXPECT_EQ(report.worker_id(), "worker-1");
  EXPECT_EQ(report.lease_id(), "lease-12-1");
  EXPECT_EQ(report.job_id(), 12);
  EXPECT_EQ(report.attempt(), 1);
  EXPECT_EQ(report.result().SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(SpooledReports(), 0u);
  EXPECT_EQ(fake_.deregisters(), 1);
  for (const std::string& authorization : fake_.authorizations()) {
    EXPECT_EQ(authorization, "Bearer s3cret");
  }
}

TEST_F(WorkerDaemonTest, CrashingJobIsCrashedWithSignalNameAndStderrTail) {
  const v1::ReportRequest report = RunOneJob(
      Config(JobScript("echo 'loading layer 7' >&2\n"
                       "echo 'LLMQ-ERROR: tensor shape mismatch' >&2\n"
                       "kill -SEGV $$")),
      Spec());
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::CRASHED);
  EXPECT_TRUE(absl::StrContains(report.error(), "SIGSEGV")) << report.error();
  EXPECT_TRUE(absl::StrContains(report.error(), "tensor shape mismatch")) << report.error();
  EXPECT_TRUE(absl::StrContains(report.error(), "loading layer 7")) << report.error();
}

TEST_F(WorkerDaemonTest, OutOfMemoryExitIsOutOfMemory) {
  const v1::ReportRequest report =
      RunOneJob(Config(JobScript("echo 'LLMQ-ERROR: RESOURCE_EXHAUSTED: 3 GB' >&2\n"
                                 "exit 11")),
                Spec());
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::OUT_OF_MEMORY);
  EXPECT_TRUE(absl::StrContains(report.error(), "3 GB")) << report.error();
}

TEST_F(WorkerDaemonTest, KilledBySigkillFromOutsideIsOutOfMemory) {
  const v1::ReportRequest report = RunOneJob(Config(JobScript("kill -KILL $$")), Spec());
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::OUT_OF_MEMORY);
}

TEST_F(WorkerDaemonTest, JobOverItsTimeoutIsKilledAndReportedTimeout) {
  const absl::Time start = absl::Now();
  const v1::ReportRequest report =
      RunOneJob(Config(JobScript("progress evaluate 5 100 ''\nsleep 30")), Spec(1));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::TIMEOUT);
  EXPECT_TRUE(absl::StrContains(report.error(), "stage=evaluate step=5/100"))
      << report.error();
  EXPECT_TRUE(ChildGone());
}

TEST_F(WorkerDaemonTest, CancelInHeartbeatAnswerKillsTheJob) {
  fake_.SetHeartbeatAnswer(/*lease_valid=*/true, /*cancel=*/true, /*normal_beats=*/2);
  const absl::Time start = absl::Now();
  const v1::ReportRequest report = RunOneJob(Config(JobScript("sleep 30")), Spec());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::PREEMPTED);
  EXPECT_TRUE(absl::StrContains(report.error(), "cancelled")) << report.error();
  EXPECT_TRUE(ProcessGone(ChildPid()));  // started (2 beats), then killed
}

TEST_F(WorkerDaemonTest, InvalidLeaseKillsTheJobAndReportsNothing) {
  fake_.SetHeartbeatAnswer(/*lease_valid=*/false, /*cancel=*/false, /*normal_beats=*/2);
  WorkerConfig config = Config(JobScript("sleep 30"));
  config.max_jobs = 1;
  fake_.AddLease(12, Spec());
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_TRUE(fake_.reports().empty());
  EXPECT_EQ(SpooledReports(), 0u);
  EXPECT_TRUE(ProcessGone(ChildPid()));  // started (2 beats), then killed
}

TEST_F(WorkerDaemonTest, ExitWithoutResultFileIsDeterministic) {
  const v1::ReportRequest report = RunOneJob(Config(JobScript("exit 0")), Spec());
  EXPECT_EQ(report.outcome(), v1::REPORT_FAILED);
  EXPECT_EQ(report.error_class(), v1::DETERMINISTIC);
  EXPECT_TRUE(absl::StrContains(report.error(), "without a readable result"));
}

TEST_F(WorkerDaemonTest, JobProcessGetsSpecAndWorkerFlags) {
  WriteExpectedResult();
  WorkerConfig config = Config(JobScript(
      "cp \"$SPEC\" \"$DIR/seen_spec.pb\"\n"
      "echo \"$@\" > \"$DIR/args\"\n"
      "cp \"$DIR/expected.pb\" \"$RESULT\""));
  config.threads = 3;
  config.cache_dir = JoinPath(dir_, "cache");
  config.cache_max_bytes = 1000;
  const v1::JobSpec spec = Spec();
  EXPECT_EQ(RunOneJob(config, spec).outcome(), v1::REPORT_SUCCEEDED);
  absl::StatusOr<std::string> seen = ReadFile(JoinPath(dir_, "seen_spec.pb"));
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, spec.SerializeAsString());
  absl::StatusOr<std::string> args = ReadFile(JoinPath(dir_, "args"));
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(absl::StrContains(*args, "--progress-fd=3")) << *args;
  EXPECT_TRUE(absl::StrContains(*args, "--device=cpu --threads=3")) << *args;
  EXPECT_TRUE(absl::StrContains(*args, "--cache-max-bytes=1000")) << *args;
}

TEST_F(WorkerDaemonTest, RefusedRegistrationIsAPermanentError) {
  fake_.SetRegisterError(grpc::StatusCode::FAILED_PRECONDITION);
  StartDaemon(Config(JobScript("exit 0")));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsFailedPrecondition(status_)) << status_;
}

TEST_F(WorkerDaemonTest, IdleWorkerExitsAfterItsIdleLimit) {
  WorkerConfig config = Config(JobScript("exit 0"));
  config.exit_when_idle = absl::Seconds(1);
  const absl::Time start = absl::Now();
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(5)));
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(fake_.deregisters(), 1);
}

}  // namespace
}  // namespace llmq
