// What the end-to-end tests need to drive real llmq processes on loopback: processes
// started in their own process group with their output in files, commands run to
// completion under a deadline, polling with a deadline, read-only queries of the
// coordinator's SQLite database, and a fixture (E2eTest) that owns a scratch directory,
// a coordinator and its workers and kills them all in TearDown, pass or fail.
//
// Binaries come from $LLMQ_BUILD_DIR (set by ctest; default build/); tests run from the
// source root, where assets/ is.
#ifndef LLMQ_TESTS_E2E_HARNESS_H_
#define LLMQ_TESTS_E2E_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"

namespace llmq {
namespace e2e {

std::string BuildDir();       // $LLMQ_BUILD_DIR, else "build"
std::string CoordBinary();    // <build>/coordinator/llmq-coord
std::string WorkerBinary();   // <build>/worker/llmq-worker
// Absolute path of a file or directory under the source root (the tests' cwd).
std::string SourcePath(absl::string_view relative);

// How a process ended.
struct ExitInfo {
  bool signaled = false;
  int code = 0;    // when !signaled
  int signal = 0;  // when signaled
  bool Succeeded() const { return !signaled && code == 0; }
  std::string ToString() const;
};

// One process started with fork/exec as the leader of a new process group, stdin from
// /dev/null, stdout and stderr to `<log_stem>.out` / `<log_stem>.err`. It gets SIGKILL
// if the test process dies first. The destructor kills the group and reaps it.
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                        const std::string& log_stem);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // To the process only (a worker's drain signal).
  void Signal(int signal);
  // To its whole process group; SIGKILL also waits until it is reaped.
  void KillGroup(int signal);
  // The exit, once the process has ended; nullopt while it runs.
  absl::optional<ExitInfo> Poll();
  // Waits up to `timeout` for the process to end.
  absl::optional<ExitInfo> Wait(absl::Duration timeout);
  bool Running() { return !Poll().has_value(); }

  std::string Stdout() const;
  std::string Stderr() const;
  std::string stderr_path() const { return log_stem_ + ".err"; }

 private:
  Process(pid_t pid, std::string name, std::string log_stem)
      : pid_(pid), name_(std::move(name)), log_stem_(std::move(log_stem)) {}

  const pid_t pid_;
  const std::string name_;
  const std::string log_stem_;
  absl::optional<ExitInfo> exit_;
};

// A command run to its end.
struct CommandResult {
  ExitInfo exit;
  bool timed_out = false;  // killed at the deadline
  std::string out, err;
  int code() const { return exit.signaled || timed_out ? -1 : exit.code; }
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& log_stem,
                         absl::Duration timeout);

// Polls `condition` every `interval` until it holds (OK) or `timeout` passes
// (DeadlineExceeded naming `what`). Never sleeps when the condition already holds.
absl::Status WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                     absl::string_view what,
                     absl::Duration interval = absl::Milliseconds(100));

// Read-only queries of a SQLite database another process writes (WAL). Each query opens
// and closes its own connection, so a coordinator that is killed and restarted between
// queries does not matter.
class DbReader {
 public:
  explicit DbReader(std::string path) : path_(std::move(path)) {}
  // Every row of `sql`, NULL as "NULL".
  absl::StatusOr<std::vector<std::vector<std::string>>> Rows(absl::string_view sql) const;
  // The first column of the single row of `sql` as an integer.
  absl::StatusOr<int64_t> Int(absl::string_view sql) const;
  // Int(), or -1 when the query fails (for use inside a WaitFor condition).
  int64_t IntOr(absl::string_view sql) const;

 private:
  const std::string path_;
};

// A grid file on the bundled 260K-parameter model with tiny ppl tasks, for the tests to
// extend: `methods` and `tasks` are YAML list bodies (indented two spaces).
std::string TinyGrid(absl::string_view name, absl::string_view methods,
                     absl::string_view tasks, absl::string_view extra = "");

// The rows of the first Markdown table in `text` (as llmq-coord prints them), each as
// header -> cell, cells trimmed.
std::vector<std::map<std::string, std::string>> MarkdownTableRows(absl::string_view text);

// The fixture: a scratch directory per test, one coordinator, any number of workers.
// The directory (logs, spools, database) is removed after a passing test, kept after a
// failing one or when $LLMQ_E2E_KEEP is set; a failure also prints each process's log tail.
class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts `llmq-coord serve` on dir()/llmq.db with short lease TTL and heartbeat, on a
  // port the kernel picks (the first time) or the same port again (a restart). Returns
  // once it serves.
  Process* StartCoordinator(const std::vector<std::string>& extra_flags = {});
  // Starts a worker daemon with its own spool under dir()/<name>; its log is <name>.err.
  // `env`: NAME=value entries added to its environment.
  Process* StartWorker(const std::string& name, const std::vector<std::string>& extra_flags = {},
                       const std::vector<std::string>& env = {});

  // `llmq-coord <args> --coordinator=<ours>` run to its end (60 s deadline).
  CommandResult Coord(std::vector<std::string> args);
  // Submits a grid file; returns the sweep id printed on stdout (stderr in `submit_err`).
  absl::StatusOr<int64_t> Submit(const std::string& grid_path, std::string* submit_err = nullptr);
  std::string WriteFile(const std::string& name, absl::string_view contents);

  DbReader Db() const { return DbReader(db_path_); }
  // Jobs of the sweep by state: "SUCCEEDED=12 FAILED=1", for messages.
  std::string StateCounts(int64_t sweep_id) const;
  // Waits until no job of the sweep is PENDING, LEASED or RUNNING.
  absl::Status WaitForSweep(int64_t sweep_id, absl::Duration timeout);
  // Every job of the sweep SUCCEEDED (`jobs` of them) with one result, written by its one
  // SUCCEEDED attempt; every job was leased at least once; no attempt is left open.
  void ExpectEachJobRecordedOnce(int64_t sweep_id, int64_t jobs) const;
  // Waits until a job leased to worker `name` is RUNNING (its job process has started and
  // heartbeats); returns its id.
  absl::StatusOr<int64_t> WaitForJobRunning(const std::string& name,
                                            absl::Duration timeout) const;
  // The worker id the coordinator gave the worker `name` (from its spool), "" before.
  std::string WorkerId(const std::string& name) const;
  // Reports `name` has spooled but the coordinator has not acknowledged.
  int SpooledReports(const std::string& name) const;

  const std::string& dir() const { return dir_; }
  const std::string& address() const { return address_; }
  Process* coordinator() { return coordinator_; }

  // Flags every client command gets (e.g. --token-file); set before calling Coord().
  std::vector<std::string> client_flags_;

 private:
  void DumpLogs();

  std::string dir_;
  std::string db_path_;
  std::string address_;  // host:port, once the first coordinator serves
  Process* coordinator_ = nullptr;
  int coordinator_starts_ = 0;
  int commands_ = 0;
  std::vector<std::unique_ptr<Process>> processes_;
};

}  // namespace e2e
}  // namespace llmq

#endif  // LLMQ_TESTS_E2E_HARNESS_H_
