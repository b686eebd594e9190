// Tests only: a WorkerDaemon against a FakeCoordinator, with a shell script standing in
// for the job process (it speaks child_protocol.h: reads the flags, writes progress
// records to fd 3, copies a prepared JobResult to the result file) and timings shrunk so
// that each test takes a second or two.
#ifndef LLMQ_WORKER_TESTING_DAEMON_FIXTURE_H_
#define LLMQ_WORKER_TESTING_DAEMON_FIXTURE_H_

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/testing/fake_coordinator.h"
#include "worker/worker_daemon.h"

namespace llmq {
namespace testing {

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    ASSERT_TRUE(server_.Start());
  }
  void TearDown() override {
    if (daemon_ != nullptr) {
      daemon_->RequestStopNow();
      JoinDaemon();
    }
    server_.Stop();
  }

  // The fake job: `body` runs after the prelude has set RESULT, SPEC, DIR and the
  // progress() function, and written the shell's pid to $DIR/child.pid.
  std::vector<std::string> JobScript(const std::string& body) {
    const std::string path = JoinPath(dir_, "job.sh");
    const std::string script = absl::StrCat(
        "#!/bin/sh\n"
        "for arg in \"$@\"; do\n"
        "  case \"$arg\" in\n"
        "    --result-file=*) RESULT=\"${arg#--result-file=}\" ;;\n"
        "    --spec-file=*) SPEC=\"${arg#--spec-file=}\" ;;\n"
        "  esac\n"
        "done\n"
        "DIR='", dir_, "'\n",
        "echo $$ > \"$DIR/child.pid\"\n"
        "progress() { printf 'progress\\t%s\\t%s\\t%s\\t%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" >&3; }\n",
        body, "\n");
    EXPECT_TRUE(WriteFileAtomically(path, script).ok());
    return {"/bin/sh", path};
  }

  // A script line that waits until the test calls Release().
  std::string WaitForRelease() const {
    return "while [ ! -e \"$DIR/release\" ]; do sleep 0.02; done";
  }
  void Release() { ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "release"), "").ok()); }

  // The JobResult the script copies to its result file with `cp "$DIR/expected.pb" ...`.
  v1::JobResult WriteExpectedResult() {
    v1::JobResult result;
    v1::Metric* metric = result.add_metrics();
    metric->set_name("ppl");
    metric->set_value(12.5);
    (*result.mutable_provenance())["device"] = "cpu";
    v1::StageTiming* timing = result.add_timings();
    timing->set_stage("quantize");
    timing->set_seconds(0.25);
    EXPECT_TRUE(
        WriteFileAtomically(JoinPath(dir_, "expected.pb"), result.SerializeAsString()).ok());
    return result;
  }

  WorkerConfig Config(std::vector<std::string> job_command) {
    WorkerConfig config;
    config.connection.target = server_.address();
    config.connection.rpc_timeout = absl::Seconds(2);
    config.connection.max_reconnect_backoff = absl::Milliseconds(200);
    config.spool_dir = JoinPath(dir_, "spool");
    config.host = "test-host";
    config.devices = {"cpu"};
    config.memory_bytes = int64_t{8} << 30;
    config.labels = {{"site", "test"}};
    config.job_command = std::move(job_command);
    config.forward_child_stderr = false;
    config.lease_wait = absl::Seconds(1);
    config.heartbeat_interval = absl::Milliseconds(100);
    config.backoff_initial = absl::Milliseconds(50);
    config.backoff_max = absl::Milliseconds(300);
    config.poll_interval = absl::Milliseconds(20);
    config.drain_grace = absl::Milliseconds(300);
    return config;
  }

  v1::JobSpec Spec(int64_t timeout_seconds = 0) {
    v1::JobSpec spec;
    spec.mutable_model()->set_alias("tiny");
    spec.mutable_method()->set_name("rtn");
    spec.mutable_task()->set_name("ppl");
    spec.set_timeout_seconds(timeout_seconds);
    spec.set_quant_key("q1");
    return spec;
  }

  void StartDaemon(WorkerConfig config) {
    daemon_ = std::make_unique<WorkerDaemon>(std::move(config));
    thread_ = std::thread([this] {
      const absl::Status status = daemon_->Run();
      absl::MutexLock lock(&status_mu_);
      status_ = status;
      finished_ = true;
    });
  }
  // Waits for Run() to return; false if it takes longer than `timeout`.
  bool JoinDaemon(absl::Duration timeout = absl::Seconds(10)) {
    if (!thread_.joinable()) return true;
    const bool done = WaitFor([this] { return finished(); }, timeout);
    if (!done) daemon_->RequestStopNow();
    thread_.join();
    return done;
  }
  bool finished() {
    absl::MutexLock lock(&status_mu_);
    return finished_;
  }

  // The pid the script wrote, or 0.
  pid_t ChildPid() const {
    absl::StatusOr<std::string> text = ReadFile(JoinPath(dir_, "child.pid"));
    int pid = 0;
    if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return 0;
    return pid;
  }
  static bool ProcessGone(pid_t pid) {
    return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
  }
  // Whether the job script is gone; also when it was killed before it wrote its pid.
  bool ChildGone() const {
    const pid_t pid = ChildPid();
    return pid == 0 || ProcessGone(pid);
  }

  size_t SpooledReports() const {
    size_t count = 0;
    std::error_code error;
    for (std::filesystem::directory_iterator it(JoinPath(dir_, "spool/reports"), error), end;
         !error && it != end; it.increment(error)) {
      ++count;
    }
    return count;
  }

  const TempDir temp_{"llmq_worker_test"};
  const std::string dir_ = temp_.path();
  FakeCoordinator fake_;
  FakeCoordinatorServer server_{&fake_};
  std::unique_ptr<WorkerDaemon> daemon_;
  std::thread thread_;
  absl::Mutex status_mu_;
  bool finished_ ABSL_GUARDED_BY(status_mu_) = false;
  absl::Status status_;  // Run()'s answer; read it after JoinDaemon()
};

}  // namespace testing
}  // namespace llmq

#endif  // LLMQ_WORKER_TESTING_DAEMON_FIXTURE_H_
