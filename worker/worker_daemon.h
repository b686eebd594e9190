// The worker daemon: registers with the coordinator, then leases a job, runs it in a
// child process (job_runner.h) while heartbeating, and reports the outcome, until it is
// drained or reaches its job or idle limit.
//
// No result is lost: a finished report is spooled durably (spool.h) before it is sent and
// deleted only once the coordinator answers RECORDED, DUPLICATE or STALE; spooled reports
// are re-sent first at start-up and whenever the coordinator answers again after an
// outage. A coordinator that does not answer is retried with backoff while the current
// job keeps running, and the worker registers again (same worker id) when it is back.
#ifndef LLMQ_WORKER_WORKER_DAEMON_H_
#define LLMQ_WORKER_WORKER_DAEMON_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "proto/llmq.pb.h"
#include "worker/artifact_cache.h"
#include "worker/backoff.h"
#include "worker/coordinator_client.h"
#include "worker/drain_signal.h"
#include "worker/job_runner.h"
#include "worker/spool.h"

namespace llmq {

struct WorkerConfig {
  CoordinatorConnection connection;
  std::string spool_dir;
  std::string cache_dir;  // empty: no artifact cache
  int64_t cache_max_bytes = 0;
  std::string device = "cpu";
  int threads = 0;  // passed to the job process; 0 = its default
  std::map<std::string, std::string> labels;

  // What Register announces; main() fills them from ProbeDevice (host_info.h).
  std::string host;
  std::vector<std::string> devices;
  int64_t memory_bytes = 0;
  // The Slurm job it runs in (SlurmJobFromEnvironment); unset outside Slurm.
  absl::optional<v1::SlurmJob> slurm;

  int max_jobs = 0;                                       // 0 = no limit
  absl::Duration exit_when_idle = absl::ZeroDuration();   // 0 = never
  absl::Duration drain_grace = absl::Seconds(30);

  // The job process's argv prefix; empty = {this executable, "run-job"}.
  std::vector<std::string> job_command;
  bool forward_child_stderr = true;

  // Timing; tests shorten these.
  absl::Duration lease_wait = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::ZeroDuration();  // 0 = the coordinator's
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(30);
  absl::Duration poll_interval = absl::Milliseconds(100);
};

class WorkerDaemon {
 public:
  explicit WorkerDaemon(WorkerConfig config);
  ~WorkerDaemon();

  // Runs until drained, max_jobs done, idle for exit_when_idle, or a permanent error
  // (the coordinator refuses our credentials or protocol version, the spool is locked by
  // another daemon), which is returned. Call once, from a thread that stays alive until
  // it returns.
  absl::Status Run();

  // Drain: stop leasing, finish the current job within drain_grace or hand it back,
  // send what is spooled, deregister, return from Run(). Thread-safe.
  void RequestDrain();
  // Like RequestDrain, but kills the current job at once. Thread-safe.
  void RequestStopNow();

 private:
  absl::Status Start();
  // Registers (again); false while the coordinator does not answer.
  absl::StatusOr<bool> RegisterOnce();
  // Sends every spooled report; false if the coordinator stopped answering.
  bool FlushSpool(absl::Duration timeout);
  void RecoverInterruptedJobs();
  void RunLease(const v1::Lease& lease);
  JobRunnerOptions RunnerOptions() const;
  void SpoolAndSend(const std::string& name, const v1::ReportRequest& report);
  // Sends one spooled report, removing it once the coordinator answered RECORDED,
  // DUPLICATE or STALE. Errors are the call's.
  absl::Status SendReport(const std::string& name, const v1::ReportRequest& report,
                          absl::Duration timeout);
  // Sleeps the next backoff delay unless draining; returns whether draining.
  bool BackOff(const absl::Status& why);
  void Shutdown();
  std::vector<std::string> CachedKeys() const;

  const WorkerConfig config_;
  DrainSignal drain_;
  absl::Mutex client_mu_;
  // Set once by Start(); the Run() thread uses it without the lock, RequestDrain() with.
  std::unique_ptr<CoordinatorClient> client_;
  bool client_ready_ ABSL_GUARDED_BY(client_mu_) = false;

  // Used only by the Run() thread.
  std::unique_ptr<WorkerSpool> spool_;
  std::unique_ptr<ArtifactCache> cache_;
  std::vector<std::string> job_command_;
  std::string worker_id_;
  absl::Duration heartbeat_interval_ = absl::Seconds(10);
  bool registered_ = false;
  ExponentialBackoff backoff_;
};

}  // namespace llmq

#endif  // LLMQ_WORKER_WORKER_DAEMON_H_
