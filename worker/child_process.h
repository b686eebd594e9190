// One supervised child process: started with fork+exec in its own process group, its
// stderr captured (the last few KB kept, everything forwarded to ours if asked), and a
// pipe on its fd 3 (kProgressFd) read as progress lines.
//
// The child ignores SIGINT/SIGTERM/SIGUSR1 (the daemon decides when a job stops and kills
// with SIGKILL; Slurm sends its signals to every process of a job step) and dies with
// SIGKILL when the thread that started it exits, so a daemon that is itself killed leaves
// no orphaned job behind. Start it from a long-lived thread.
//
// Not thread-safe: one thread starts, polls and kills it.
#ifndef LLMQ_WORKER_CHILD_PROCESS_H_
#define LLMQ_WORKER_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "worker/child_protocol.h"

namespace llmq {

struct ChildProcessOptions {
  size_t stderr_tail_bytes = 4096;
  bool forward_stderr = true;  // copy the child's stderr to ours as it arrives
};

// This binary's path (/proc/self/exe resolved), to start another copy of it.
std::string SelfExecutable();

class ChildProcess {
 public:
  // Starts argv[0] (a path; no PATH search) with `argv`.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const ChildProcessOptions& options);

  // Kills the process group and reaps the child if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `timeout` for output or the child's end. Complete progress lines read
  // meanwhile are appended to `progress_lines`. Returns the exit once the child ended
  // (and its remaining output was read); later calls return it again.
  absl::optional<ChildExit> Poll(absl::Duration timeout,
                                 std::vector<std::string>* progress_lines);

  // SIGKILL to the child's whole process group; idempotent. Poll() then reports the exit.
  void Kill();

  // The last stderr_tail_bytes of the child's stderr (and stdout), starting at a line.
  std::string StderrTail() const;

  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int progress_fd, int stderr_fd, ChildProcessOptions options);
  void ReadAvailable(std::vector<std::string>* progress_lines);
  void CloseFds();

  const pid_t pid_;
  int progress_fd_;
  int stderr_fd_;
  const ChildProcessOptions options_;
  std::string progress_partial_;  // bytes after the last newline
  std::string stderr_tail_;
  absl::optional<ChildExit> exit_;
};

}  // namespace llmq

#endif  // LLMQ_WORKER_CHILD_PROCESS_H_
