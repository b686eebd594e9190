#include "tests/e2e_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/files.h"

namespace llmq {
namespace e2e {
namespace {

ExitInfo FromWaitStatus(int status) {
  ExitInfo exit;
  if (WIFSIGNALED(status)) {
    exit.signaled = true;
    exit.signal = WTERMSIG(status);
  } else {
    exit.code = WEXITSTATUS(status);
  }
  return exit;
}

std::string ReadOrEmpty(const std::string& path) { return ReadFile(path).value_or(""); }

}  // namespace

std::string BuildDir() {
  const char* dir = std::getenv("LLMQ_BUILD_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "build";
}
std::string CoordBinary() { return JoinPath(BuildDir(), "coordinator/llmq-coord"); }
std::string WorkerBinary() { return JoinPath(BuildDir(), "worker/llmq-worker"); }

std::string SourcePath(absl::string_view relative) {
  return (std::filesystem::current_path() / std::string(relative)).lexically_normal().string();
}

std::string ExitInfo::ToString() const {
  return signaled ? absl::StrCat("signal ", signal, " (", strsignal(signal), ")")
                  : absl::StrCat("exit ", code);
}

// ---- Process

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                        const std::string& log_stem) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  // Everything the child touches is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  std::vector<std::string> copies = argv;
  for (std::string& arg : copies) args.push_back(arg.data());
  args.push_back(nullptr);
  const std::string out = log_stem + ".out";
  const std::string err = log_stem + ".err";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before prctl
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int in_fd = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) ::_exit(127);
    ::dup2(in_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that KillGroup right after Start reaches it
  std::string name = argv[0].substr(argv[0].rfind('/') + 1);
  return std::unique_ptr<Process>(new Process(pid, std::move(name), log_stem));
}

Process::~Process() { KillGroup(SIGKILL); }

void Process::Signal(int signal) {
  if (!Poll().has_value()) ::kill(pid_, signal);
}

void Process::KillGroup(int signal) {
  // Only while the leader is not reaped: until then its id cannot name anyone else's group.
  if (Poll().has_value()) return;
  ::kill(-pid_, signal);
  if (signal != SIGKILL) return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_ = FromWaitStatus(status);
}

absl::optional<ExitInfo> Process::Poll() {
  if (exit_.has_value()) return exit_;
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) exit_ = FromWaitStatus(status);
  return exit_;
}

absl::optional<ExitInfo> Process::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!Poll().has_value() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  return exit_;
}

std::string Process::Stdout() const { return ReadOrEmpty(log_stem_ + ".out"); }
std::string Process::Stderr() const { return ReadOrEmpty(log_stem_ + ".err"); }

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& log_stem,
                         absl::Duration timeout) {
  CommandResult result;
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(argv, log_stem);
  if (!process.ok()) {
    result.timed_out = true;
    result.err = std::string(process.status().message());
    return result;
  }
  absl::optional<ExitInfo> exit = (*process)->Wait(timeout);
  if (!exit.has_value()) {
    result.timed_out = true;
    (*process)->KillGroup(SIGKILL);
    exit = (*process)->Poll();
  }
  result.exit = *exit;
  result.out = (*process)->Stdout();
  result.err = (*process)->Stderr();
  if (result.timed_out) {
    absl::StrAppend(&result.err, "\n[killed after ", absl::FormatDuration(timeout), ": ",
                    absl::StrJoin(argv, " "), "]");
  }
  return result;
}

absl::Status WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                     absl::string_view what, absl::Duration interval) {
  const absl::Time start = absl::Now();
  while (!condition()) {
    if (absl::Now() - start > timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", absl::FormatDuration(timeout), " waiting for ", what));
    }
    absl::SleepFor(interval);
  }
  return absl::OkStatus();
}

// ---- DbReader

absl::StatusOr<std::vector<std::vector<std::string>>> DbReader::Rows(absl::string_view sql) const {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat(path_, ": ", message));
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
  std::vector<std::vector<std::string>> rows;
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  for (; rc == SQLITE_ROW; rc = sqlite3_step(statement)) {
    std::vector<std::string>& row = rows.emplace_back();
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const unsigned char* text = sqlite3_column_text(statement, i);
      row.push_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
    }
  }
  absl::Status status;
  if (rc != SQLITE_DONE) {
    status = absl::InternalError(absl::StrCat(sql, ": ", sqlite3_errmsg(db)));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  if (!status.ok()) return status;
  return rows;
}

absl::StatusOr<int64_t> DbReader::Int(absl::string_view sql) const {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = Rows(sql);
  if (!rows.ok()) return rows.status();
  int64_t value = 0;
  if (rows->size() != 1 || rows->front().empty() ||
      !absl::SimpleAtoi(rows->front().front(), &value)) {
    return absl::InternalError(absl::StrCat(sql, ": not one integer"));
  }
  return value;
}

int64_t DbReader::IntOr(absl::string_view sql) const {
  absl::StatusOr<int64_t> value = Int(sql);
  return value.ok() ? *value : -1;
}

std::vector<std::map<std::string, std::string>> MarkdownTableRows(absl::string_view text) {
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> header;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "|") || !absl::ConsumeSuffix(&line, "|")) {
      if (!header.empty()) break;  // the table ended
      continue;
    }
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(line, '|')) {
      cells.emplace_back(absl::StripAsciiWhitespace(cell));
    }
    if (header.empty()) {
      header = cells;
      continue;
    }
    // The rule under the header: ":---" or "---:" cells.
    if (!cells.empty() && !cells[0].empty() &&
        cells[0].find_first_not_of("-:") == std::string::npos) {
      continue;
    }
    std::map<std::string, std::string>& row = rows.emplace_back();
    for (size_t i = 0; i < cells.size() && i < header.size(); ++i) row[header[i]] = cells[i];
  }
  return rows;
}

std::string TinyGrid(absl::string_view name, absl::string_view methods,
                     absl::string_view tasks, absl::string_view extra) {
  return absl::StrCat("name: ", name, "\nmodels:\n  - name: stories260k\n    path: ",
                      SourcePath("assets/models/stories260K"), "\nmethods:\n", methods,
                      "tasks:\n", tasks, extra);
}

}  // namespace e2e
}  // namespace llmq
