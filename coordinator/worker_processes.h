// Local `llmq-worker` processes for `submit --local`: started with their output going to
// log files, reaped as they exit, stopped with SIGTERM (the worker drains) and, after a
// grace period, SIGKILL. Owned by one thread.
#ifndef LLMQ_COORDINATOR_WORKER_PROCESSES_H_
#define LLMQ_COORDINATOR_WORKER_PROCESSES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace llmq {

// The llmq-worker to run: `explicit_path` when given, else the one beside this program's
// own binary (build/coordinator/../worker/llmq-worker, or the same directory when
// installed). NotFound names the places it looked.
absl::StatusOr<std::string> FindWorkerBinary(const std::string& explicit_path);

// Starts `argv` (argv[0] the binary's path) with stdin from /dev/null, stdout and stderr to
// `log` (truncated), and no signal blocked; returns its pid. InternalError names the binary.
absl::StatusOr<pid_t> SpawnWithLog(std::vector<std::string> argv, const std::string& log);

class WorkerProcesses {
 public:
  WorkerProcesses() = default;
  ~WorkerProcesses();  // Stop(10 s)
  WorkerProcesses(const WorkerProcesses&) = delete;
  WorkerProcesses& operator=(const WorkerProcesses&) = delete;

  // Starts `count` processes `binary args...`; the i-th writes to log_dir/worker-i.log.
  absl::Status Start(const std::string& binary, const std::vector<std::string>& args, int count,
                     const std::string& log_dir);
  // Reaps the processes that exited; returns how many still run.
  int Running();
  // SIGTERM to all, waits up to `grace` for them to exit, then SIGKILL. Idempotent.
  void Stop(absl::Duration grace);

  const std::vector<std::string>& log_paths() const { return log_paths_; }

 private:
  std::vector<pid_t> pids_;  // -1 once reaped
  std::vector<std::string> log_paths_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_WORKER_PROCESSES_H_
