// The real llmq-worker binary with the real pipeline: as the job process the daemon
// starts (run-job), as a person runs it on a job file, and as a
// daemon that drains on SIGTERM, and on SIGUSR1 as Slurm sends it before a job's time
// limit. Skipped when LLMQ_BUILD_DIR (set by ctest) is unknown.
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "grid/grid.h"
#include "worker/child_process.h"
#include "worker/testing/daemon_fixture.h"
#include "worker/testing/shell.h"

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
  // A one-job grid file on the bundled 260K-parameter model, small enough to run in a
  // few seconds; empty if the assets are not where ctest runs tests (the source root).
  std::string WriteDemoJob() {
    char cwd[PATH_MAX] = {0};
    const std::string model = JoinPath(::getcwd(cwd, sizeof(cwd)), "assets/models/stories260K");
    if (!IsDirectory(model)) return "";
    const std::string path = JoinPath(dir_, "job.yaml");
    EXPECT_TRUE(WriteFileAtomically(path, absl::StrCat(R"(name: worker-test
models:
  - name: stories260k
    path: )", model, R"(
    dtype: float32
methods: [none]
tasks:
  - name: ppl
    dataset: tinystories
    context: 128
    limit: 2
)")).ok());
    return path;
  }

  std::string binary_;
};

TEST_F(WorkerBinaryTest, RunJobOnAJobFilePrintsMetricsProvenanceAndTimingsAsJson) {
  const std::string job = WriteDemoJob();
  if (job.empty()) GTEST_SKIP() << "bundled model not found (run from the source root)";
  const testing::ShellResult run = testing::RunShell(absl::StrCat(binary_, " run-job ", job, " 2>/dev/null"));
  const std::string& out = run.out;
  ASSERT_EQ(run.exit_code, 0) << out;
  const nlohmann::json json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(json.is_object()) << out;
  ASSERT_TRUE(json["metrics"].contains("ppl")) << out;
  EXPECT_GT(json["metrics"]["ppl"]["value"].get<double>(), 1.0);
  EXPECT_EQ(json["provenance"]["device"], "cpu");
  EXPECT_TRUE(json["timings"].contains("load")) << out;
}

TEST_F(WorkerBinaryTest, DaemonRunsARealJobThroughRunJobAndReportsItsMetrics) {
  const std::string job = WriteDemoJob();
  if (job.empty()) GTEST_SKIP() << "bundled model not found";
  absl::StatusOr<std::string> yaml = ReadFile(job);
  ASSERT_TRUE(yaml.ok());
  absl::StatusOr<v1::JobSpec> spec = ParseSingleJob(*yaml, job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  WorkerConfig config = Config({binary_, "run-job"});
  config.max_jobs = 1;
  fake_.AddLease(12, *spec);
  StartDaemon(std::move(config));
  ASSERT_TRUE(JoinDaemon(absl::Seconds(60)));
  ASSERT_EQ(fake_.reports().size(), 1u);
  const v1::ReportRequest report = fake_.reports()[0];
  ASSERT_EQ(report.outcome(), v1::REPORT_SUCCEEDED) << report.error();
  bool has_ppl = false;
  for (const v1::Metric& metric : report.result().metrics()) {
    if (metric.name() == "ppl") has_ppl = metric.value() > 1.0;
  }
  EXPECT_TRUE(has_ppl);
  EXPECT_EQ(report.result().provenance().at("job_key"), spec->job_key());
  EXPECT_FALSE(fake_.heartbeats().empty());
}

TEST_F(WorkerBinaryTest, RunJobChildReportsAPipelineFailureAsDeterministic) {
  WorkerConfig config = Config({binary_, "run-job"});
  config.max_jobs = 1;
  v1::JobSpec spec = Spec();
  spec.mutable_model()->set_path(JoinPath(dir_, "no-such-model"));
  fake_.AddLease(12, spec);
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
  EXPECT_TRUE(ChildGone());
}

// What Slurm does with --signal=USR1@<seconds> to a step: SIGUSR1 to every process of it,
// the daemon and its job process alike. The daemon drains: it takes no further job, lets
// the running one finish (within --drain-seconds) and reports it, deregisters and exits 0;
// the job process ignores the signal. The daemon also registers the Slurm job it runs in.
TEST_F(WorkerBinaryTest, DaemonUnderSlurmDrainsOnSigusr1FinishingItsJob) {
  WriteExpectedResult();
  const std::vector<std::string> job =
      JobScript(WaitForRelease() + "\ncp \"$DIR/expected.pb\" \"$RESULT\"");
  fake_.AddLease(12, Spec());
  fake_.AddLease(13, Spec());  // must stay unleased: the daemon drains before it asks again
  ChildProcessOptions quiet;
  quiet.forward_stderr = false;
  auto daemon = ChildProcess::Start(
      {"/usr/bin/env", "SLURM_JOB_ID=4242", "SLURM_ARRAY_JOB_ID=4240",
       "SLURM_ARRAY_TASK_ID=2", binary_, absl::StrCat("--coordinator=", server_.address()),
       absl::StrCat("--spool=", JoinPath(dir_, "spool")),
       absl::StrCat("--job-command=", job[0], " ", job[1]), "--drain-seconds=60"},
      quiet);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(WaitFor([this] { return !fake_.heartbeats().empty() && ChildPid() != 0; }));
  const pid_t child = ChildPid();
  // ChildProcess::Start runs /usr/bin/env, which execs the daemon in the same process.
  ASSERT_EQ(::kill((*daemon)->pid(), SIGUSR1), 0);
  ASSERT_EQ(::kill(child, SIGUSR1), 0);
  std::vector<std::string> lines;
  absl::optional<ChildExit> exit;
  for (int i = 0; i < 50 && !exit; ++i) exit = (*daemon)->Poll(absl::Milliseconds(10), &lines);
  EXPECT_FALSE(exit.has_value()) << "the daemon must wait for its job while draining";
  EXPECT_FALSE(ProcessGone(child)) << "the job process must ignore SIGUSR1";
  Release();
  for (int i = 0; i < 1000 && !exit; ++i) exit = (*daemon)->Poll(absl::Milliseconds(10), &lines);
  ASSERT_TRUE(exit.has_value()) << (*daemon)->StderrTail();
  EXPECT_FALSE(exit->signaled) << (*daemon)->StderrTail();
  EXPECT_EQ(exit->exit_code, 0) << (*daemon)->StderrTail();
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].job_id(), 12);
  EXPECT_EQ(fake_.reports()[0].outcome(), v1::REPORT_SUCCEEDED) << fake_.reports()[0].error();
  EXPECT_EQ(fake_.deregisters(), 1);
  ASSERT_FALSE(fake_.registers().empty());
  const v1::RegisterRequest& registered = fake_.registers()[0];
  ASSERT_TRUE(registered.has_slurm());
  EXPECT_EQ(registered.slurm().job_id(), 4242);
  EXPECT_EQ(registered.slurm().array_job_id(), 4240);
  EXPECT_EQ(registered.slurm().array_task_id(), 2);
}

// A signal sent to a process goes to any one of its threads that does not block it, and
// threads that libraries start before main() (OpenBLAS's pool) block nothing: whichever
// thread receives SIGUSR1, the daemon must drain, never die of the default action. The
// signal goes here to the first such thread (by id) other than the main one.
TEST_F(WorkerBinaryTest, DaemonDrainsWhicheverThreadReceivesTheSignal) {
  ChildProcessOptions quiet;
  quiet.forward_stderr = false;
  auto daemon = ChildProcess::Start({binary_, absl::StrCat("--coordinator=", server_.address()),
                                     absl::StrCat("--spool=", JoinPath(dir_, "spool"))},
                                    quiet);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const pid_t pid = (*daemon)->pid();
  ASSERT_TRUE(WaitFor([this] { return !fake_.registers().empty(); }));
  std::vector<pid_t> unblocked;  // threads that take SIGUSR1 as it comes
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    const pid_t tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    if (tid == pid) continue;
    const std::string status = ReadFile(entry.path().string() + "/status").value_or("");
    const size_t at = status.find("SigBlk:");
    if (at == std::string::npos) continue;
    const uint64_t blocked = std::stoull(status.substr(at + 7), nullptr, 16);
    if ((blocked & (uint64_t{1} << (SIGUSR1 - 1))) == 0) unblocked.push_back(tid);
  }
  ASSERT_FALSE(unblocked.empty()) << "no thread would take SIGUSR1";
  std::sort(unblocked.begin(), unblocked.end());
  ASSERT_EQ(::syscall(SYS_tgkill, pid, unblocked[0], SIGUSR1), 0);
  std::vector<std::string> lines;
  absl::optional<ChildExit> exit;
  for (int i = 0; i < 1000 && !exit; ++i) exit = (*daemon)->Poll(absl::Milliseconds(10), &lines);
  ASSERT_TRUE(exit.has_value()) << (*daemon)->StderrTail();
  EXPECT_FALSE(exit->signaled) << "killed by signal " << exit->signal;
  EXPECT_EQ(exit->exit_code, 0) << (*daemon)->StderrTail();
  EXPECT_EQ(fake_.deregisters(), 1);
}

}  // namespace
}  // namespace llmq
