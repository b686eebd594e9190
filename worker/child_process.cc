#include "worker/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace llmq {

std::string SelfExecutable() {
  char path[PATH_MAX + 1] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", path, PATH_MAX);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "/proc/self/exe";
}
namespace {

// Lowest descriptor the parent parks the child's ends on, so that dup2 onto 0..3 in the
// child never has source == target.
constexpr int kParkedFdFloor = 10;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int Park(int fd) {
  const int parked = ::fcntl(fd, F_DUPFD_CLOEXEC, kParkedFdFloor);
  ::close(fd);
  return parked;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(pid_t parent, int stdin_fd, int stderr_fd, int progress_fd,
                            const char* path, char* const* argv, const char* exec_error) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kChildExecFailed);  // the parent died already

  // Dispositions before the mask: a signal pending in the parent's blocked mask must meet
  // SIG_IGN here, not the parent's handler.
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGUSR1, &action, nullptr);  // Slurm signals every process of a step
  action.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::dup2(stdin_fd, 0) < 0 || ::dup2(stderr_fd, 1) < 0 || ::dup2(stderr_fd, 2) < 0 ||
      ::dup2(progress_fd, kProgressFd) < 0) {
    ::_exit(kChildExecFailed);
  }
  if (::syscall(SYS_close_range, kProgressFd + 1, ~0U, 0) != 0) {
    for (int fd = kProgressFd + 1; fd < 4096; ++fd) ::close(fd);
  }
  ::execv(path, argv);
  ssize_t ignored = ::write(2, exec_error, std::strlen(exec_error));
  (void)ignored;
  ::_exit(kChildExecFailed);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const ChildProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty job command");
  int progress_pipe[2];
  int stderr_pipe[2];
  if (::pipe2(progress_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
  if (::pipe2(stderr_pipe, O_CLOEXEC) != 0) {
    ::close(progress_pipe[0]);
    ::close(progress_pipe[1]);
    return ErrnoStatus("pipe");
  }
  const int stdin_fd = Park(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int progress_w = Park(progress_pipe[1]);
  const int stderr_w = Park(stderr_pipe[1]);
  auto close_child_ends = [&] {
    ::close(stdin_fd);
    ::close(progress_w);
    ::close(stderr_w);
  };
  if (stdin_fd < 0 || progress_w < 0 || stderr_w < 0) {
    const absl::Status status = ErrnoStatus("preparing child descriptors");
    close_child_ends();
    ::close(progress_pipe[0]);
    ::close(stderr_pipe[0]);
    return status;
  }

  // Everything the child needs is built before fork: it may not allocate afterwards.
  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);
  const std::string exec_error =
      absl::StrCat(kErrorLinePrefix, "cannot execute job command ", argv[0], "\n");
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const absl::Status status = ErrnoStatus("fork");
    close_child_ends();
    ::close(progress_pipe[0]);
    ::close(stderr_pipe[0]);
    return status;
  }
  if (pid == 0) {
    ExecChild(parent, stdin_fd, stderr_w, progress_w, argv[0].c_str(), c_argv.data(),
              exec_error.c_str());
  }
  ::setpgid(pid, pid);  // also here, so a Kill() right after Start() reaches the group
  close_child_ends();
  ::fcntl(progress_pipe[0], F_SETFL, O_NONBLOCK);
  ::fcntl(stderr_pipe[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, progress_pipe[0], stderr_pipe[0], options));
}

ChildProcess::ChildProcess(pid_t pid, int progress_fd, int stderr_fd,
                           ChildProcessOptions options)
    : pid_(pid), progress_fd_(progress_fd), stderr_fd_(stderr_fd),
      options_(std::move(options)) {}

ChildProcess::~ChildProcess() {
  if (!exit_.has_value()) {
    Kill();
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  CloseFds();
}

void ChildProcess::Kill() {
  if (exit_.has_value()) return;  // reaped: the pid may belong to someone else now
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);  // in case it had not reached setpgid yet
}

void ChildProcess::CloseFds() {
  if (progress_fd_ >= 0) ::close(progress_fd_);
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  progress_fd_ = -1;
  stderr_fd_ = -1;
}

void ChildProcess::ReadAvailable(std::vector<std::string>* progress_lines) {
  char buffer[8192];
  while (progress_fd_ >= 0) {
    const ssize_t n = ::read(progress_fd_, buffer, sizeof(buffer));
    if (n > 0) {
      progress_partial_.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while ((newline = progress_partial_.find('\n')) != std::string::npos) {
        progress_lines->push_back(progress_partial_.substr(0, newline));
        progress_partial_.erase(0, newline + 1);
      }
      if (progress_partial_.size() > 64 * 1024) progress_partial_.clear();  // no newline
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    ::close(progress_fd_);  // EOF or error
    progress_fd_ = -1;
  }
  while (stderr_fd_ >= 0) {
    const ssize_t n = ::read(stderr_fd_, buffer, sizeof(buffer));
    if (n > 0) {
      if (options_.forward_stderr) {
        ssize_t ignored = ::write(2, buffer, static_cast<size_t>(n));
        (void)ignored;
      }
      stderr_tail_.append(buffer, static_cast<size_t>(n));
      if (stderr_tail_.size() > 2 * options_.stderr_tail_bytes) {
        stderr_tail_ = StderrTail();
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    ::close(stderr_fd_);
    stderr_fd_ = -1;
  }
}

absl::optional<ChildExit> ChildProcess::Poll(absl::Duration timeout,
                                             std::vector<std::string>* progress_lines) {
  if (exit_.has_value()) return exit_;
  pollfd fds[2];
  nfds_t count = 0;
  if (progress_fd_ >= 0) fds[count++] = {progress_fd_, POLLIN, 0};
  if (stderr_fd_ >= 0) fds[count++] = {stderr_fd_, POLLIN, 0};
  const int timeout_ms =
      static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(timeout)));
  ::poll(fds, count, timeout_ms);
  ReadAvailable(progress_lines);

  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped != pid_) return absl::nullopt;
  ChildExit exit;
  exit.signaled = WIFSIGNALED(status);
  exit.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  // Leftovers of the group (a shell's children) would hold the pipes open forever.
  ::kill(-pid_, SIGKILL);
  ReadAvailable(progress_lines);
  if (!progress_partial_.empty()) {
    progress_lines->push_back(progress_partial_);
    progress_partial_.clear();
  }
  CloseFds();
  exit_ = exit;
  return exit_;
}

std::string ChildProcess::StderrTail() const {
  if (stderr_tail_.size() <= options_.stderr_tail_bytes) return stderr_tail_;
  absl::string_view tail(stderr_tail_);
  tail.remove_prefix(tail.size() - options_.stderr_tail_bytes);
  const size_t newline = tail.find('\n');
  if (newline != absl::string_view::npos && newline + 1 < tail.size()) {
    tail.remove_prefix(newline + 1);
  }
  return std::string(tail);
}

}  // namespace llmq
