// llmq_sweep_bench: the coordinator under a whole sweep, every part its own process, as in
// a deployment: `llmq-coord serve` (with a token), --workers `llmq-fake-worker` processes
// (register, lease, heartbeat, report: no work), and a sweep of --jobs no-op jobs
// submitted over gRPC. It prints
//   - jobs/s from submit to the last result, and after the submit returned;
//   - the coordinator's CPU seconds (its rusage when it exits: user + system) and per job,
//     and its peak resident memory (VmHWM);
//   - the check: every job SUCCEEDED with exactly one result and one successful attempt,
//     no attempt left open, and the workers' own count of reports the coordinator
//     answered RECORDED equals the jobs (none refused as stale or duplicate).
// Exit status 1 when the check fails. A scale check, not a timed test: the figures depend
// on the machine and its load (printed).
//
// Example: llmq_sweep_bench --jobs=10000 --workers=8   (what `scripts/bench sweep` runs)
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/corpus.h"
#include "common/files.h"
#include "common/status.h"
#include "coordinator/grid_submission.h"
#include "coordinator/user_client.h"
#include "coordinator/worker_processes.h"
#include "storage/sqlite.h"

extern char** environ;

ABSL_FLAG(int, jobs, 10000, "no-op jobs in the sweep: a multiple of 100");
ABSL_FLAG(int, workers, 8, "llmq-fake-worker processes");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(30), "give up when the sweep takes longer");
ABSL_FLAG(std::string, dir, "",
          "database, grid, token and process logs (default: a fresh directory in $TMPDIR, "
          "removed afterwards)");

namespace llmq {
namespace {

constexpr char kToken[] = "sweep-bench-token";

// 100 variants (20 rtn settings x 5 ppl limits) x jobs/100 repeats on the bundled model;
// the fake workers ignore what a job asks for.
std::string NoOpGrid(int jobs) {
  return absl::StrCat("name: sweep-bench\nmodels:\n  - name: stories260k\n    path: ",
                      AssetPath("models/stories260K"),
                      "\nmethods:\n  - {name: rtn, bits: [2, 3, 4, 5], group_size: [16, 32, 64, "
                      "128, 256]}\ntasks:\n  - {name: ppl, limit: [1, 2, 3, 4, 5]}\nrepeats: ",
                      jobs / 100, "\n");
}

std::string OwnDirectory() {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/self/exe", error).parent_path().string();
}

// A port nothing listens on now (the kernel's choice for port 0).
absl::StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError("cannot bind a loopback port");
  return ntohs(address.sin_port);
}

// SIGTERM, then the exit (SIGKILL after `grace`); the process's own rusage.
rusage Stop(pid_t pid, absl::Duration grace) {
  ::kill(pid, SIGTERM);
  rusage usage{};
  const absl::Time deadline = absl::Now() + grace;
  while (::wait4(pid, nullptr, WNOHANG, &usage) == 0) {
    if (absl::Now() > deadline) {
      ::kill(pid, SIGKILL);
      ::wait4(pid, nullptr, 0, &usage);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return usage;
}

double CpuSeconds(const rusage& usage) {
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// VmHWM of a running process (peak resident set), in MB; -1 if unreadable.
double PeakResidentMb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    int64_t kb = 0;
    if (absl::ConsumePrefix(&rest, "VmHWM:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kb)) {
      return kb / 1024.0;
    }
  }
  return -1;
}

// A fake worker's last line: "... reports=N recorded=R duplicate=D stale=S".
std::map<std::string, int64_t> ReportCounts(const std::string& log) {
  std::map<std::string, int64_t> counts;
  const std::string text = ReadFile(log).value_or("");
  const size_t at = text.rfind("reports=");
  if (at == std::string::npos) return counts;
  for (absl::string_view field : absl::StrSplit(text.substr(at, text.find('\n', at) - at), ' ')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(field, '=');
    int64_t n = 0;
    if (absl::SimpleAtoi(kv.second, &n)) counts[kv.first] = n;
  }
  return counts;
}

absl::StatusOr<int64_t> QueryInt(sqlite::Connection& db, const std::string& sql) {
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement statement, db.Prepare(sql));
  LLMQ_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return absl::InternalError(absl::StrCat("no row: ", sql));
  return statement.Int(0);
}

struct Processes {
  pid_t coordinator = -1;
  std::vector<pid_t> workers;
  ~Processes() {  // on an early return: nothing left running
    for (pid_t pid : workers) Stop(pid, absl::Seconds(5));
    if (coordinator > 0) Stop(coordinator, absl::Seconds(10));
  }
};

absl::Status Run(const std::string& dir) {
  const int jobs = absl::GetFlag(FLAGS_jobs);
  const int workers = absl::GetFlag(FLAGS_workers);
  if (jobs < 100 || jobs % 100 != 0 || workers < 1) {
    return absl::InvalidArgumentError("--jobs: a positive multiple of 100; --workers >= 1");
  }
  const std::string bin = OwnDirectory();
  const std::string coord_binary = JoinPath(bin, "llmq-coord");
  const std::string worker_binary = JoinPath(bin, "llmq-fake-worker");
  for (const std::string& binary : {coord_binary, worker_binary}) {
    if (!FileExists(binary)) return absl::NotFoundError(absl::StrCat(binary, ": not built"));
  }
  const std::string db_path = JoinPath(dir, "llmq.db");
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db_path + suffix).c_str());
  const std::string grid_path = JoinPath(dir, "sweep-bench.yaml");
  const std::string token_path = JoinPath(dir, "token");
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(grid_path, NoOpGrid(jobs)));
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(token_path, kToken));
  LLMQ_ASSIGN_OR_RETURN(const int port, FreePort());
  const std::string address = absl::StrCat("127.0.0.1:", port);
  double load[1] = {0};
  (void)::getloadavg(load, 1);
  std::printf("sweep bench: %d no-op jobs, %d llmq-fake-worker processes, llmq-coord serve on "
              "%s, in %s (load average %.1f on %u cores)\n",
              jobs, workers, address.c_str(), dir.c_str(), load[0],
              std::thread::hardware_concurrency());

  Processes processes;
  LLMQ_ASSIGN_OR_RETURN(processes.coordinator,
                        SpawnWithLog({coord_binary, "serve", "--db=" + db_path, "--listen=" + address,
                               "--token_file=" + token_path},
                              JoinPath(dir, "coordinator.log")));
  ClientOptions client_options;
  client_options.target = address;
  client_options.token = kToken;
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<UserClient> client, UserClient::Connect(client_options));
  if (!client->IsServing(absl::Seconds(30))) {
    return absl::UnavailableError(absl::StrCat("the coordinator did not come up; see ",
                                               JoinPath(dir, "coordinator.log")));
  }
  std::vector<std::string> worker_logs;
  for (int i = 0; i < workers; ++i) {
    worker_logs.push_back(JoinPath(dir, absl::StrCat("worker-", i, ".log")));
    LLMQ_ASSIGN_OR_RETURN(const pid_t pid,
                          SpawnWithLog({worker_binary, "--coordinator=" + address,
                                 "--token_file=" + token_path},
                                worker_logs.back()));
    processes.workers.push_back(pid);
  }

  // ---- submit, then wait for the last result
  const absl::Time start = absl::Now();
  LLMQ_ASSIGN_OR_RETURN(PreparedSubmission prepared, PrepareSubmission(grid_path, false));
  const double prepare_s = absl::ToDoubleSeconds(absl::Now() - start);
  LLMQ_ASSIGN_OR_RETURN(v1::SubmitSweepResponse submitted, client->SubmitSweep(prepared.request));
  const absl::Time submitted_at = absl::Now();
  if (submitted.jobs_new() != jobs) {
    return absl::InternalError(absl::StrCat("expected ", jobs, " new jobs, got ",
                                            submitted.jobs_new(), " (database not fresh?)"));
  }
  const absl::Time deadline = start + absl::GetFlag(FLAGS_timeout);
  int64_t done = 0;
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(v1::GetSweepResponse sweep, client->GetSweep(submitted.sweep_id()));
    const auto& by_state = sweep.summary().jobs_by_state();
    done = 0;
    for (const char* state : {"SUCCEEDED", "FAILED", "CANCELLED"}) {
      if (auto it = by_state.find(state); it != by_state.end()) done += it->second;
    }
    if (done >= jobs) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(done, " of ", jobs, " jobs finished in ",
                                                      absl::FormatDuration(deadline - start)));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Time finished_at = absl::Now();

  // ---- stop everything; each process's own CPU time
  double workers_cpu_s = 0;
  for (pid_t pid : processes.workers) ::kill(pid, SIGTERM);  // all at once: each ends its poll
  for (pid_t& pid : processes.workers) {
    workers_cpu_s += CpuSeconds(Stop(pid, absl::Seconds(10)));
    pid = -1;
  }
  processes.workers.clear();
  const double coordinator_peak_mb = PeakResidentMb(processes.coordinator);
  const double coordinator_cpu_s = CpuSeconds(Stop(processes.coordinator, absl::Seconds(10)));
  processes.coordinator = -1;

  const double total_s = absl::ToDoubleSeconds(finished_at - start);
  const double after_submit_s = absl::ToDoubleSeconds(finished_at - submitted_at);
  std::printf("submit       %.2f s (client parse + identities %.2f s, SubmitSweep %.2f s)\n",
              absl::ToDoubleSeconds(submitted_at - start), prepare_s,
              absl::ToDoubleSeconds(submitted_at - start) - prepare_s);
  std::printf("sweep        %d jobs in %.2f s from submit = %.0f jobs/s; %.2f s after the "
              "submit returned = %.0f jobs/s\n",
              jobs, total_s, jobs / total_s, after_submit_s, jobs / after_submit_s);
  std::printf("coordinator  %.2f CPU s (user + system, whole process) = %.2f ms per job, "
              "%.2f cores over the sweep; peak RSS %.0f MB\n",
              coordinator_cpu_s, 1000 * coordinator_cpu_s / jobs, coordinator_cpu_s / total_s,
              coordinator_peak_mb);
  std::printf("workers      %.2f CPU s in all (%d processes)\n", workers_cpu_s, workers);

  // ---- every job recorded once
  std::map<std::string, int64_t> reports;
  for (const std::string& log : worker_logs) {
    for (const auto& [name, n] : ReportCounts(log)) reports[name] += n;
  }
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Connection> db,
                        sqlite::Connection::Open(db_path, sqlite::Connection::Mode::kReadOnly,
                                                 absl::Seconds(5)));
  const std::string in_sweep = absl::StrCat(
      " IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ", submitted.sweep_id(), ")");
  LLMQ_ASSIGN_OR_RETURN(const int64_t succeeded,
                        QueryInt(*db, absl::StrCat("SELECT COUNT(*) FROM jobs WHERE state = "
                                                   "'SUCCEEDED' AND id", in_sweep)));
  LLMQ_ASSIGN_OR_RETURN(const int64_t results,
                        QueryInt(*db, absl::StrCat("SELECT COUNT(*) FROM results WHERE job_id",
                                                   in_sweep)));
  LLMQ_ASSIGN_OR_RETURN(
      const int64_t jobs_with_one_success,
      QueryInt(*db, absl::StrCat("SELECT COUNT(*) FROM (SELECT job_id FROM attempts WHERE "
                                 "outcome = 'SUCCEEDED' AND job_id", in_sweep,
                                 " GROUP BY job_id HAVING COUNT(*) = 1)")));
  LLMQ_ASSIGN_OR_RETURN(
      const int64_t results_from_that_attempt,
      QueryInt(*db, absl::StrCat("SELECT COUNT(*) FROM results r JOIN attempts a ON a.job_id = "
                                 "r.job_id AND a.attempt = r.attempt AND a.worker_id = "
                                 "r.worker_id WHERE a.outcome = 'SUCCEEDED' AND r.job_id",
                                 in_sweep)));
  LLMQ_ASSIGN_OR_RETURN(const int64_t attempts,
                        QueryInt(*db, absl::StrCat("SELECT COUNT(*) FROM attempts WHERE job_id",
                                                   in_sweep)));
  LLMQ_ASSIGN_OR_RETURN(const int64_t open_attempts,
                        QueryInt(*db, "SELECT COUNT(*) FROM attempts WHERE outcome = 'OPEN'"));
  const bool once = succeeded == jobs && results == jobs && jobs_with_one_success == jobs &&
                    results_from_that_attempt == jobs && open_attempts == 0 &&
                    reports["recorded"] == jobs && reports["stale"] == 0 &&
                    reports["duplicate"] == 0;
  std::printf("check        jobs SUCCEEDED %lld, results %lld, jobs with exactly one successful "
              "attempt %lld, results from that attempt %lld, attempts %lld (open %lld); "
              "workers' reports %lld: recorded %lld, duplicate %lld, stale %lld: %s\n",
              static_cast<long long>(succeeded), static_cast<long long>(results),
              static_cast<long long>(jobs_with_one_success),
              static_cast<long long>(results_from_that_attempt),
              static_cast<long long>(attempts), static_cast<long long>(open_attempts),
              static_cast<long long>(reports["reports"]),
              static_cast<long long>(reports["recorded"]),
              static_cast<long long>(reports["duplicate"]),
              static_cast<long long>(reports["stale"]),
              once ? "every job recorded once" : "NOT every job recorded once");
  if (!once) return absl::InternalError("the sweep's jobs were not each recorded once");
  return absl::OkStatus();
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A no-op sweep through a real llmq-coord serve and llmq-fake-worker processes: jobs/s, "
      "coordinator CPU, and a check that every job is recorded once.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool own_dir = dir.empty();
  if (own_dir) {
    dir = (std::filesystem::temp_directory_path() / "llmq-sweep-bench-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      std::fprintf(stderr, "llmq_sweep_bench: mkdtemp failed\n");
      return 1;
    }
  } else if (!llmq::MakeDirectories(dir).ok()) {
    std::fprintf(stderr, "llmq_sweep_bench: cannot create %s\n", dir.c_str());
    return 1;
  }
  const absl::Status status = llmq::Run(dir);
  if (!status.ok()) {
    // The logs stay for a look at what went wrong.
    std::fprintf(stderr, "llmq_sweep_bench: %s (logs in %s)\n",
                 std::string(status.message()).c_str(), dir.c_str());
    return 1;
  }
  if (own_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return 0;
}
