#include "coordinator/worker_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/files.h"

extern char** environ;

namespace llmq {
namespace {

std::string OwnDirectory() {
  char buffer[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return ".";
  std::string path(buffer, n);
  return path.substr(0, path.rfind('/'));
}

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

absl::StatusOr<std::string> FindWorkerBinary(const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    if (IsExecutable(explicit_path)) return explicit_path;
    return absl::NotFoundError(absl::StrCat(explicit_path, ": not an executable"));
  }
  const std::string dir = OwnDirectory();
  const std::vector<std::string> candidates = {JoinPath(dir, "llmq-worker"),
                                               JoinPath(dir, "../worker/llmq-worker")};
  for (const std::string& candidate : candidates) {
    if (IsExecutable(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(
      "llmq-worker not found (looked for ", absl::StrJoin(candidates, " and "),
      "); build it (needs libtorch) or pass --worker_binary"));
}

absl::StatusOr<pid_t> SpawnWithLog(std::vector<std::string> argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  // The child should not inherit signals this process blocks (a signal watcher).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return absl::InternalError(absl::StrCat("starting ", argv[0], ": ", std::strerror(error)));
  }
  return pid;
}

absl::Status WorkerProcesses::Start(const std::string& binary,
                                    const std::vector<std::string>& args, int count,
                                    const std::string& log_dir) {
  for (int i = 0; i < count; ++i) {
    const std::string log = JoinPath(log_dir, absl::StrCat("worker-", i, ".log"));
    std::vector<std::string> argv = {binary};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<pid_t> pid = SpawnWithLog(std::move(argv), log);
    if (!pid.ok()) return pid.status();
    pids_.push_back(*pid);
    log_paths_.push_back(log);
    LOG(INFO) << "event=worker_started pid=" << *pid << " log=" << log;
  }
  return absl::OkStatus();
}

int WorkerProcesses::Running() {
  int running = 0;
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    int status = 0;
    const pid_t reaped = waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno == ECHILD)) {
      LOG(INFO) << "event=worker_exited pid=" << pid << " status=" << status;
      pid = -1;
    } else {
      ++running;
    }
  }
  return running;
}

void WorkerProcesses::Stop(absl::Duration grace) {
  for (pid_t pid : pids_) {
    if (pid > 0) kill(pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + grace;
  while (Running() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    LOG(WARNING) << "event=worker_killed pid=" << pid;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
}

WorkerProcesses::~WorkerProcesses() { Stop(absl::Seconds(10)); }

}  // namespace llmq
