// llmq-worker: the worker daemon (default), and `run-job`, which runs one job in this
// process (the daemon starts it as a child per job; people use it to try one job).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/cpu.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/version.h"
#include "glog/logging.h"
#include "worker/child_process.h"
#include "worker/host_info.h"
#include "worker/run_job.h"
#include "worker/worker_daemon.h"

ABSL_FLAG(std::string, coordinator, "", "Coordinator address, host:port.");
ABSL_FLAG(std::string, token_file, "", "File holding the bearer token sent on every call.");
ABSL_FLAG(std::string, tls_ca, "", "PEM root certificates: talk TLS to the coordinator.");
ABSL_FLAG(std::string, spool, "",
          "Directory for pending reports and job files (default "
          "~/.local/state/llmq/worker-<host>-<device>).");
ABSL_FLAG(std::string, cache, "", "Artifact cache directory (quantized models); empty = none.");
ABSL_FLAG(std::string, cache_max_bytes, "0",
          "Artifact cache size limit: bytes, or with K/M/G/T (binary); 0 = no limit.");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N.");
ABSL_FLAG(int, threads, 0, "Intra-op threads per job; 0 = the cores this process may use.");
ABSL_FLAG(std::string, labels, "", "Labels for scheduling, k=v,k2=v2.");
ABSL_FLAG(int, max_jobs, 0, "Exit after this many jobs; 0 = no limit.");
ABSL_FLAG(int, exit_when_idle, 0, "Exit after this many seconds without a job; 0 = never.");
ABSL_FLAG(int, drain_seconds, 30,
          "On SIGTERM/SIGINT/SIGUSR1, how long the current job may take to finish before "
          "it is killed and handed back. A second signal kills it at once.");
ABSL_FLAG(std::string, job_command, "",
          "Debugging: the job process's argv prefix, space-separated (default: this "
          "binary's run-job).");
ABSL_FLAG(int, verbosity, 0, "glog verbose level (VLOG).");
// run-job
ABSL_FLAG(std::string, spec_file, "",
          "run-job: the JobSpec (binary, or text format if .txtpb/.textproto/.pbtxt).");
ABSL_FLAG(std::string, result_file, "",
          "run-job: write the JobResult (binary) here instead of printing JSON.");
ABSL_FLAG(int, progress_fd, -1, "run-job: write progress records to this descriptor.");

namespace llmq {
namespace {

constexpr char kUsage[] = R"(runs llmq jobs leased from a coordinator.

Daemon:
  llmq-worker --coordinator host:port [--token-file F] [--tls-ca F] [--spool DIR]
      [--cache DIR --cache-max-bytes N] [--device cpu|cuda:0] [--threads N]
      [--labels k=v,...] [--max-jobs N] [--exit-when-idle SECONDS] [--drain-seconds S]
  e.g. llmq-worker --coordinator coord:7070 --device cuda:0 --cache /scratch/llmq \
           --cache-max-bytes 200G --labels site=a100

One job, in this process:
  llmq-worker run-job JOB.yaml              (a grid file with one value per axis)
  llmq-worker run-job --spec-file JOB.txtpb (a text-format llmq.v1.JobSpec)
  prints {"metrics": {...}, "provenance": {...}, "timings": {...}} as JSON.

Flags may be spelled with '-' or '_'.)";

absl::StatusOr<int64_t> ParseBytes(std::string text) {
  text = std::string(absl::StripAsciiWhitespace(text));
  int64_t scale = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(text.back())) {
      case 'K': scale = int64_t{1} << 10; break;
      case 'M': scale = int64_t{1} << 20; break;
      case 'G': scale = int64_t{1} << 30; break;
      case 'T': scale = int64_t{1} << 40; break;
      default: break;
    }
    if (scale != 1) text.pop_back();
  }
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat("not a byte count: '", text, "'"));
  }
  return static_cast<int64_t>(value * static_cast<double>(scale));
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(absl::string_view text) {
  std::map<std::string, std::string> labels;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("label '", item, "' is not k=v"));
    }
    labels[std::string(absl::StripAsciiWhitespace(kv[0]))] =
        std::string(absl::StripAsciiWhitespace(kv[1]));
  }
  return labels;
}

int ConfigError(const absl::Status& status) {
  std::cerr << "llmq-worker: " << status.message() << "\n";
  return 2;
}

int RunJobMain(const std::vector<char*>& positional) {
  RunJobRequest request;
  request.spec_file = absl::GetFlag(FLAGS_spec_file);
  request.result_file = absl::GetFlag(FLAGS_result_file);
  request.progress_fd = absl::GetFlag(FLAGS_progress_fd);
  if (positional.size() > 2) request.job_yaml = positional[2];
  request.pipeline.device = absl::GetFlag(FLAGS_device);
  request.pipeline.threads = absl::GetFlag(FLAGS_threads);
  if (request.pipeline.threads <= 0) request.pipeline.threads = CoresAvailable();
  request.pipeline.artifact_cache = absl::GetFlag(FLAGS_cache);
  absl::StatusOr<int64_t> cache_bytes = ParseBytes(absl::GetFlag(FLAGS_cache_max_bytes));
  if (!cache_bytes.ok()) return ConfigError(cache_bytes.status());
  request.pipeline.artifact_cache_bytes = *cache_bytes;
  // A job that quantizes serves the result from a fresh copy of this binary.
  request.pipeline.serving_command = {SelfExecutable(), "run-job"};
  return RunJobCommand(request, std::cout);
}

// The write end of the pipe through which OnStopSignal passes signals to the watcher.
int stop_signal_pipe = -1;

void OnStopSignal(int signal) {
  const int saved_errno = errno;
  const unsigned char number = static_cast<unsigned char>(signal);
  const ssize_t ignored = ::write(stop_signal_pipe, &number, 1);
  (void)ignored;
  errno = saved_errno;
}

// Handles SIGTERM, SIGINT and SIGUSR1 on one watcher thread: first drain, second kill the
// job, third (or 10 s after the second) exit. The kernel gives a signal sent to the
// process to any thread that does not block it, and threads that libraries start before
// main() (OpenBLAS's pool) block nothing: so the signals are caught by a handler wherever
// they land, which passes them through a pipe to the watcher; threads started after this
// call block them. Call before the daemon starts its threads.
absl::Status HandleStopSignals(WorkerDaemon* daemon) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("signal pipe: ", std::strerror(errno)));
  }
  stop_signal_pipe = fds[1];
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, signal);
  // A handler also replaces the SIG_IGN a daemon started in the background or from a
  // job process inherits for SIGINT/SIGTERM.
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = OnStopSignal;
  action.sa_mask = signals;
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) ::sigaction(signal, &action, nullptr);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([daemon, signals, read_fd = fds[0]] {
    ::pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    int received = 0;
    while (true) {
      pollfd ready = {read_fd, POLLIN, 0};
      const int polled = ::poll(&ready, 1, received < 2 ? -1 : 10000);
      if (polled < 0) continue;  // EINTR: a signal landed on this thread
      unsigned char signal = 0;
      if (polled > 0 && ::read(read_fd, &signal, 1) != 1) continue;
      ++received;
      if (received == 1) {
        LOG(INFO) << "signal=" << ::strsignal(signal) << ": draining";
        daemon->RequestDrain();
      } else if (received == 2) {
        LOG(WARNING) << "signal=" << ::strsignal(signal) << " again: stopping now";
        daemon->RequestStopNow();
      } else {
        LOG(ERROR) << "still running after stop: exiting";
        std::_Exit(1);
      }
    }
  }).detach();
  return absl::OkStatus();
}

int DaemonMain() {
  WorkerConfig config;
  config.connection.target = absl::GetFlag(FLAGS_coordinator);
  if (config.connection.target.empty()) {
    return ConfigError(absl::InvalidArgumentError("--coordinator host:port is required"));
  }
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = ReadFile(path);
    if (!token.ok()) return ConfigError(token.status());
    config.connection.token = std::string(absl::StripAsciiWhitespace(*token));
    if (config.connection.token.empty()) {
      return ConfigError(absl::InvalidArgumentError(absl::StrCat(path, ": empty token")));
    }
  }
  if (const std::string path = absl::GetFlag(FLAGS_tls_ca); !path.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(path);
    if (!pem.ok()) return ConfigError(pem.status());
    config.connection.tls_ca_pem = *pem;
  }
  config.device = absl::GetFlag(FLAGS_device);
  absl::StatusOr<DeviceInfo> device = ProbeDevice(config.device);
  if (!device.ok()) return ConfigError(device.status());
  config.devices = device->devices;
  config.memory_bytes = device->memory_bytes;
  config.host = HostName();
  config.slurm = SlurmJobFromEnvironment([](const char* name) { return std::getenv(name); });
  absl::StatusOr<std::map<std::string, std::string>> labels =
      ParseLabels(absl::GetFlag(FLAGS_labels));
  if (!labels.ok()) return ConfigError(labels.status());
  config.labels = *labels;
  if (!device->model.empty()) config.labels.emplace("gpu", device->model);
  config.threads = absl::GetFlag(FLAGS_threads);
  if (config.threads <= 0) config.threads = CoresAvailable();
  config.spool_dir = absl::GetFlag(FLAGS_spool);
  if (config.spool_dir.empty()) {
    const char* home = std::getenv("HOME");
    config.spool_dir = absl::StrCat(home != nullptr ? home : "/tmp",
                                    "/.local/state/llmq/worker-", config.host, "-",
                                    absl::StrReplaceAll(config.device, {{":", ""}}));
  }
  config.cache_dir = absl::GetFlag(FLAGS_cache);
  absl::StatusOr<int64_t> cache_bytes = ParseBytes(absl::GetFlag(FLAGS_cache_max_bytes));
  if (!cache_bytes.ok()) return ConfigError(cache_bytes.status());
  config.cache_max_bytes = *cache_bytes;
  config.max_jobs = absl::GetFlag(FLAGS_max_jobs);
  config.exit_when_idle = absl::Seconds(absl::GetFlag(FLAGS_exit_when_idle));
  config.drain_grace = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  config.job_command =
      absl::StrSplit(absl::GetFlag(FLAGS_job_command), ' ', absl::SkipEmpty());

  ::signal(SIGPIPE, SIG_IGN);
  WorkerDaemon daemon(std::move(config));
  if (const absl::Status handled = HandleStopSignals(&daemon); !handled.ok()) {
    LOG(ERROR) << "worker failed: " << handled;
    return 1;
  }
  const absl::Status status = daemon.Run();
  if (!status.ok()) {
    LOG(ERROR) << "worker failed: " << status;
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  llmq::NormalizeFlagNames(argc, argv);
  absl::SetProgramUsageMessage(llmq::kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "llmq_worker_main");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  FLAGS_v = absl::GetFlag(FLAGS_verbosity);
  google::InitGoogleLogging(argv[0]);
  if (positional.size() >= 2 && std::string(positional[1]) == "run-job") {
    return llmq::RunJobMain(positional);
  }
  if (positional.size() > 1) {
    std::cerr << "llmq-worker: unknown command '" << positional[1]
              << "' (try --help)\n";
    return 2;
  }
  return llmq::DaemonMain();
}
