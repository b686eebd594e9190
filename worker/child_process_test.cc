#include "worker/child_process.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

ChildProcessOptions Quiet() {
  ChildProcessOptions options;
  options.forward_stderr = false;
  return options;
}

bool IsDeadOrZombie(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  FILE* file = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (file == nullptr) return true;
  char buffer[256] = {0};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  return absl::StrContains(absl::string_view(buffer, n), ") Z");
}

// Polls until the child ends (at most 10 s), collecting its progress lines.
ChildExit RunToEnd(ChildProcess& child, std::vector<std::string>* lines) {
  for (int i = 0; i < 1000; ++i) {
    if (auto exit = child.Poll(absl::Milliseconds(10), lines)) return *exit;
  }
  ADD_FAILURE() << "child did not end";
  child.Kill();
  return *child.Poll(absl::Seconds(1), lines);
}

TEST(WorkerChildProcessTest, CollectsProgressLinesAndExitCode) {
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c", "printf 'a\\nb\\n' >&3; printf 'c' >&3; exit 7"}, Quiet());
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> lines;
  const ChildExit exit = RunToEnd(**child, &lines);
  EXPECT_FALSE(exit.signaled);
  EXPECT_EQ(exit.exit_code, 7);
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(WorkerChildProcessTest, KeepsOnlyTheStderrTailStartingAtALine) {
  // 200 lines of 50 bytes: 10 KB, more than the 4 KB tail.
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c",
       "i=0; while [ $i -lt 200 ]; do printf '%049d\\n' $i >&2; i=$((i+1)); done"},
      Quiet());
  ASSERT_TRUE(child.ok());
  std::vector<std::string> lines;
  RunToEnd(**child, &lines);
  const std::string tail = (*child)->StderrTail();
  EXPECT_LE(tail.size(), 4096u);
  EXPECT_GT(tail.size(), 4000u);
  EXPECT_TRUE(absl::EndsWith(tail, absl::StrCat(std::string(46, '0'), "199\n"))) << tail;
  EXPECT_EQ(tail.size() % 50, 0u);  // whole lines only
}

TEST(WorkerChildProcessTest, KillEndsTheWholeProcessGroup) {
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c", "sleep 30 & echo $! >&3; wait"}, Quiet());
  ASSERT_TRUE(child.ok());
  std::vector<std::string> lines;
  for (int i = 0; i < 500 && lines.empty(); ++i) (*child)->Poll(absl::Milliseconds(10), &lines);
  ASSERT_EQ(lines.size(), 1u);
  const pid_t grandchild = std::stoi(lines[0]);
  (*child)->Kill();
  const ChildExit exit = RunToEnd(**child, &lines);
  EXPECT_TRUE(exit.signaled);
  EXPECT_EQ(exit.signal, SIGKILL);
  // The grandchild is killed too (it may linger as a zombie until init reaps it).
  bool dead = false;
  for (int i = 0; i < 200 && !dead; ++i) {
    dead = IsDeadOrZombie(grandchild);
    if (!dead) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(dead);
}

TEST(WorkerChildProcessTest, ChildIgnoresSigtermSoTheDaemonDecidesWhenItStops) {
  auto child = ChildProcess::Start({"/bin/sh", "-c", "kill -TERM $$; exit 3"}, Quiet());
  ASSERT_TRUE(child.ok());
  std::vector<std::string> lines;
  const ChildExit exit = RunToEnd(**child, &lines);
  EXPECT_FALSE(exit.signaled);
  EXPECT_EQ(exit.exit_code, 3);
}

// Slurm's --signal=USR1@<seconds> (without B:) reaches every process of a job step, the
// job processes too; only the daemon may act on it (drain).
TEST(WorkerChildProcessTest, ChildIgnoresSigusr1SoASlurmStepSignalOnlyDrainsTheDaemon) {
  auto child = ChildProcess::Start({"/bin/sh", "-c", "kill -USR1 $$; exit 4"}, Quiet());
  ASSERT_TRUE(child.ok());
  std::vector<std::string> lines;
  const ChildExit exit = RunToEnd(**child, &lines);
  EXPECT_FALSE(exit.signaled) << "signal " << exit.signal;
  EXPECT_EQ(exit.exit_code, 4);
}

TEST(WorkerChildProcessTest, UnexecutableCommandExits127WithAnErrorLine) {
  auto child = ChildProcess::Start({"/nonexistent/job"}, Quiet());
  ASSERT_TRUE(child.ok());
  std::vector<std::string> lines;
  const ChildExit exit = RunToEnd(**child, &lines);
  EXPECT_EQ(exit.exit_code, kChildExecFailed);
  EXPECT_TRUE(absl::StrContains((*child)->StderrTail(), "LLMQ-ERROR: cannot execute"));
}

}  // namespace
}  // namespace llmq
