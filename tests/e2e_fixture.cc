// E2eTest (e2e_harness.h): the scratch directory, the coordinator and workers of one test.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "tests/e2e_harness.h"

namespace llmq {
namespace e2e {
namespace {

// Short enough that an expired lease costs seconds, long enough that a heartbeat a loaded
// 2-core machine delays by a second or two does not lose it.
constexpr char kLeaseTtl[] = "--lease_ttl=5s";
constexpr char kHeartbeat[] = "--heartbeat=1s";

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

}  // namespace

void E2eTest::SetUp() {
  if (!FileExists(CoordBinary()) || !FileExists(WorkerBinary())) {
    GTEST_SKIP() << "llmq-coord or llmq-worker not built under " << BuildDir()
                 << " (run through ctest, which sets LLMQ_BUILD_DIR)";
  }
  if (!IsDirectory("assets/models/stories260K")) {
    GTEST_SKIP() << "bundled model not found: run from the source root";
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = JoinPath(::testing::TempDir(), absl::StrCat("llmq-e2e-", info->test_suite_name(), "-",
                                                    info->name(), "-", ::getpid()));
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  ASSERT_TRUE(MakeDirectories(dir_).ok()) << dir_;
  db_path_ = JoinPath(dir_, "llmq.db");
}

void E2eTest::TearDown() {
  if (HasFailure()) DumpLogs();
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) (*it)->KillGroup(SIGKILL);
  processes_.clear();
  const bool keep = HasFailure() || std::getenv("LLMQ_E2E_KEEP") != nullptr;
  if (!keep && !dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  } else if (!dir_.empty()) {
    std::fprintf(stderr, "[e2e] logs and database kept in %s\n", dir_.c_str());
  }
}

void E2eTest::DumpLogs() {
  for (const auto& process : processes_) {
    const absl::optional<ExitInfo> exit = process->Poll();
    std::fprintf(stderr, "----- %s pid %d (%s): %s\n%s\n", process->name().c_str(),
                 process->pid(), exit ? exit->ToString().c_str() : "running",
                 process->stderr_path().c_str(), Tail(process->Stderr(), 3000).c_str());
  }
}

Process* E2eTest::StartCoordinator(const std::vector<std::string>& extra_flags) {
  ++coordinator_starts_;
  std::vector<std::string> argv = {CoordBinary(), "serve", absl::StrCat("--db=", db_path_),
                                   absl::StrCat("--listen=", address_.empty() ? "127.0.0.1:0"
                                                                              : address_),
                                   kLeaseTtl, kHeartbeat};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<std::unique_ptr<Process>> started =
      Process::Start(argv, JoinPath(dir_, absl::StrCat("coordinator-", coordinator_starts_)));
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return nullptr;
  Process* process = started->get();
  processes_.push_back(*std::move(started));
  // "llmq coordinator serving on 127.0.0.1:41234 (database ...)" once the port is bound.
  const std::string kServing = "serving on ";
  std::string serving;
  const absl::Status up = WaitFor(
      [&] {
        const std::string log = process->Stderr();
        const size_t at = log.find(kServing);
        if (at == std::string::npos) return !process->Running();
        const size_t end = log.find(' ', at + kServing.size());
        if (end == std::string::npos) return false;
        serving = log.substr(at + kServing.size(), end - at - kServing.size());
        return true;
      },
      absl::Seconds(30), "the coordinator to serve", absl::Milliseconds(20));
  EXPECT_TRUE(up.ok() && !serving.empty()) << up << "\n" << process->Stderr();
  if (serving.empty()) return nullptr;
  if (address_.empty()) address_ = serving;
  EXPECT_EQ(serving, address_) << "a restarted coordinator must keep its port";
  coordinator_ = process;
  return process;
}

Process* E2eTest::StartWorker(const std::string& name,
                              const std::vector<std::string>& extra_flags,
                              const std::vector<std::string>& env) {
  EXPECT_FALSE(address_.empty()) << "start the coordinator first";
  std::vector<std::string> argv;
  if (!env.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env.begin(), env.end());
  }
  // One intra-op thread per job: two workers share the 2 cores CI has.
  argv.insert(argv.end(), {WorkerBinary(), absl::StrCat("--coordinator=", address_),
                           absl::StrCat("--spool=", JoinPath(dir_, name + "-spool")),
                           "--threads=1", absl::StrCat("--labels=name=", name)});
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<std::unique_ptr<Process>> started =
      Process::Start(argv, JoinPath(dir_, name));
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return nullptr;
  processes_.push_back(*std::move(started));
  return processes_.back().get();
}

CommandResult E2eTest::Coord(std::vector<std::string> args) {
  std::vector<std::string> argv = {CoordBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(absl::StrCat("--coordinator=", address_));
  argv.insert(argv.end(), client_flags_.begin(), client_flags_.end());
  return RunCommand(argv, JoinPath(dir_, absl::StrCat("command-", ++commands_)),
                    absl::Seconds(60));
}

absl::StatusOr<int64_t> E2eTest::Submit(const std::string& grid_path, std::string* submit_err) {
  const CommandResult run = Coord({"submit", grid_path});
  if (submit_err != nullptr) *submit_err = run.err;
  int64_t sweep_id = 0;
  if (run.code() != 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(run.out), &sweep_id)) {
    return absl::InternalError(absl::StrCat("submit ", grid_path, ": ", run.exit.ToString(),
                                            "\nstdout: ", run.out, "\nstderr: ", run.err));
  }
  return sweep_id;
}

std::string E2eTest::WriteFile(const std::string& name, absl::string_view contents) {
  const std::string path = JoinPath(dir_, name);
  EXPECT_TRUE(WriteFileAtomically(path, contents).ok()) << path;
  return path;
}

std::string E2eTest::StateCounts(int64_t sweep_id) const {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = Db().Rows(absl::StrCat(
      "SELECT j.state, COUNT(*) FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id "
      "WHERE s.sweep_id = ", sweep_id, " GROUP BY j.state ORDER BY j.state"));
  if (!rows.ok()) return std::string(rows.status().message());
  std::string counts;
  for (const auto& row : *rows) absl::StrAppend(&counts, counts.empty() ? "" : " ", row[0], "=", row[1]);
  return counts;
}

absl::Status E2eTest::WaitForSweep(int64_t sweep_id, absl::Duration timeout) {
  const std::string unfinished = absl::StrCat(
      "SELECT COUNT(*) FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = ",
      sweep_id, " AND j.state IN ('PENDING', 'LEASED', 'RUNNING')");
  const absl::Status done = WaitFor([&] { return Db().IntOr(unfinished) == 0; }, timeout,
                                    absl::StrCat("sweep ", sweep_id, " to finish"),
                                    absl::Milliseconds(200));
  if (done.ok()) return done;
  return absl::DeadlineExceededError(absl::StrCat(done.message(), " (", StateCounts(sweep_id), ")"));
}

void E2eTest::ExpectEachJobRecordedOnce(int64_t sweep_id, int64_t jobs) const {
  SCOPED_TRACE(absl::StrCat("sweep ", sweep_id, ": ", StateCounts(sweep_id)));
  const DbReader db = Db();
  const std::string in_sweep =
      absl::StrCat(" IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = ", sweep_id, ")");
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM jobs WHERE state = 'SUCCEEDED' AND id",
                                  in_sweep)),
            jobs);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM results WHERE job_id", in_sweep)), jobs);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM attempts WHERE outcome = 'SUCCEEDED' "
                                  "AND job_id", in_sweep)),
            jobs);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM results r JOIN attempts a ON "
                                  "a.job_id = r.job_id AND a.attempt = r.attempt AND "
                                  "a.worker_id = r.worker_id WHERE a.outcome = 'SUCCEEDED' "
                                  "AND r.job_id", in_sweep)),
            jobs);
  EXPECT_EQ(db.IntOr(absl::StrCat("SELECT COUNT(*) FROM jobs WHERE attempts < 1 AND id", in_sweep)),
            0);
  EXPECT_EQ(db.IntOr("SELECT COUNT(*) FROM attempts WHERE outcome = 'OPEN'"), 0);
}

absl::StatusOr<int64_t> E2eTest::WaitForJobRunning(const std::string& name,
                                                   absl::Duration timeout) const {
  int64_t job_id = -1;
  const absl::Status found = WaitFor(
      [&] {
        const std::string worker_id = WorkerId(name);
        if (worker_id.empty()) return false;
        job_id = Db().IntOr(absl::StrCat(
            "SELECT IFNULL(MIN(id), -1) FROM jobs WHERE state = 'RUNNING' AND lease_worker = '",
            worker_id, "'"));
        return job_id > 0;
      },
      timeout, absl::StrCat("a job running on worker ", name));
  if (!found.ok()) return found;
  return job_id;
}

std::string E2eTest::WorkerId(const std::string& name) const {
  return std::string(absl::StripAsciiWhitespace(
      ReadFile(JoinPath(dir_, name + "-spool/worker_id")).value_or("")));
}

int E2eTest::SpooledReports(const std::string& name) const {
  std::error_code error;
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(JoinPath(dir_, name + "-spool/reports"), error)) {
    if (entry.path().extension() == ".pb") ++count;
  }
  return count;
}

}  // namespace e2e
}  // namespace llmq
