// llmq_coord_bench: the coordinator's two throughput goals on a real SQLite file (WAL,
// synchronous=NORMAL), each printed beside raw SQLite measured in the same run on the
// same disk, so that a slow disk or machine shows as such and not as a regression:
//
//   submit        a grid file of --jobs jobs (default 100,000) from YAML to committed rows:
//                 the client's parse + file identities + expansion, the coordinator's own
//                 re-expansion, and Scheduler::Submit (one transaction). Goal: < 10 s
//                 (scaled for other --jobs).
//                 Baseline: as many rows of the same size inserted raw, one transaction.
//   lease+report  --workers in-process fake workers (threads) lease a job and report it
//                 done, --round_trips times in all, on the submitted queue. Goal: >= 5,000
//                 round trips/s. Baseline: raw one-row insert transactions per second.
//
// Example: llmq_coord_bench --jobs=100000 --workers=16 --round_trips=20000 --dir=/tmp
// (scripts/bench coord runs it with the defaults).
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/corpus.h"
#include "common/files.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/grid_submission.h"
#include "coordinator/scheduler.h"
#include "storage/sqlite.h"

ABSL_FLAG(int, jobs, 100000, "jobs in the submitted grid: a multiple of 100, at most 100,000");
ABSL_FLAG(int, workers, 16, "in-process fake workers (threads) for lease+report");
ABSL_FLAG(int, round_trips, 20000, "lease+report round trips to time (at most --jobs)");
ABSL_FLAG(std::string, dir, "",
          "where the databases and the grid file go (default: a fresh directory in $TMPDIR); "
          "put it on the disk the coordinator would use");

namespace llmq {
namespace {

constexpr double kSubmitGoalSecondsPer100k = 10;
constexpr double kRoundTripGoalPerSecond = 5000;

// 100 variants (20 rtn settings x 5 ppl limits) x jobs/100 repeats, on the bundled model.
std::string BenchGrid(int jobs) {
  return absl::StrCat("name: bench\nmodels:\n  - name: stories260k\n    path: ",
                      AssetPath("models/stories260K"),
                      "\nmethods:\n  - {name: rtn, bits: [2, 3, 4, 5], group_size: [16, 32, 64, "
                      "128, 256]}\ntasks:\n  - {name: ppl, limit: [1, 2, 3, 4, 5]}\nrepeats: ",
                      jobs / 100, "\n");
}

double Seconds(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

absl::Status BeginImmediate(sqlite::Connection* db, std::optional<sqlite::Transaction>* txn) {
  absl::StatusOr<sqlite::Transaction> begun =
      sqlite::Transaction::Begin(db, sqlite::Transaction::Kind::kImmediate);
  if (!begun.ok()) return begun.status();
  txn->emplace(*std::move(begun));
  return absl::OkStatus();
}

// Raw SQLite: `rows` rows shaped like jobs (unique 64-character key, state, priority,
// a spec blob of `blob_bytes`) inserted with one prepared statement. One transaction
// for all when `one_transaction`, else one each. Returns seconds.
absl::StatusOr<double> RawInserts(const std::string& path, int rows, size_t blob_bytes,
                                  bool one_transaction) {
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Connection> db,
                        sqlite::Connection::Open(path, sqlite::Connection::Mode::kReadWriteCreate,
                                                 absl::Seconds(5)));
  LLMQ_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE raw_jobs (id INTEGER PRIMARY KEY, job_key TEXT NOT NULL UNIQUE, "
      "state TEXT NOT NULL, priority INTEGER NOT NULL, spec BLOB NOT NULL, "
      "created_ms INTEGER NOT NULL)"));
  const std::string blob(blob_bytes, 'x');
  const absl::Time start = absl::Now();
  std::optional<sqlite::Transaction> all;
  if (one_transaction) LLMQ_RETURN_IF_ERROR(BeginImmediate(db.get(), &all));
  for (int i = 0; i < rows; ++i) {
    std::optional<sqlite::Transaction> each;
    if (!one_transaction) LLMQ_RETURN_IF_ERROR(BeginImmediate(db.get(), &each));
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement insert,
                          db->Prepare("INSERT INTO raw_jobs (job_key, state, priority, spec, "
                                      "created_ms) VALUES (?, 'PENDING', 0, ?, ?)"));
    // A key as long as a SHA-256 in hex, spread over the index like one.
    const std::string key = absl::StrCat(absl::Hex(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15u,
                                                   absl::kZeroPad16),
                                         std::string(48, 'a'));
    LLMQ_RETURN_IF_ERROR(insert.BindAll(key, sqlite::Blob{blob}, int64_t{i}).Run());
    if (each.has_value()) LLMQ_RETURN_IF_ERROR(each->Commit());
  }
  if (all.has_value()) LLMQ_RETURN_IF_ERROR(all->Commit());
  return Seconds(start);
}

// Lease + report with `workers` threads until `round_trips` are done. Returns seconds.
absl::StatusOr<double> LeaseAndReport(Scheduler& scheduler, int workers, int round_trips) {
  std::vector<std::string> ids;
  for (int w = 0; w < workers; ++w) {
    v1::RegisterRequest request;
    request.set_host(absl::StrCat("bench", w));
    request.add_devices("cpu");
    request.set_protocol_version(kProtocolVersion);
    LLMQ_ASSIGN_OR_RETURN(v1::RegisterResponse registered, scheduler.Register(request));
    ids.push_back(registered.worker_id());
  }
  std::atomic<int> started{0};
  std::atomic<int64_t> errors{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      v1::LeaseRequest lease_request;
      lease_request.set_worker_id(ids[w]);
      v1::ReportRequest report;
      report.set_worker_id(ids[w]);
      report.set_outcome(v1::REPORT_SUCCEEDED);
      v1::Metric* metric = report.mutable_result()->add_metrics();
      metric->set_name("ppl");
      metric->set_value(12.5);
      (*report.mutable_result()->mutable_provenance())["host"] = "bench";
      while (started.fetch_add(1) < round_trips) {
        absl::StatusOr<std::optional<v1::Lease>> lease = scheduler.Lease(lease_request);
        if (!lease.ok() || !lease->has_value()) {
          ++errors;  // the queue holds more jobs than round trips: never empty here
          return;
        }
        report.set_lease_id((*lease)->lease_id());
        report.set_job_id((*lease)->job_id());
        report.set_attempt((*lease)->attempt());
        absl::StatusOr<v1::ReportStatus> status = scheduler.Report(report);
        if (!status.ok() || *status != v1::RECORDED) ++errors;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = Seconds(start);
  if (errors.load() > 0) {
    return absl::InternalError(absl::StrCat(errors.load(), " lease or report calls failed"));
  }
  return seconds;
}

const char* Verdict(bool met) { return met ? "goal met" : "GOAL MISSED"; }

absl::Status Run() {
  const int jobs = absl::GetFlag(FLAGS_jobs);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int round_trips = std::min(absl::GetFlag(FLAGS_round_trips), jobs);
  if (jobs < 100 || jobs > 100000 || jobs % 100 != 0 || workers < 1 || round_trips < 1) {
    return absl::InvalidArgumentError("--jobs: a multiple of 100 in 100..100000; --workers, "
                                      "--round_trips: at least 1");
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() / "llmq-coord-bench-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  }
  for (const char* name : {"llmq.db", "raw-bulk.db", "raw-each.db"}) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(JoinPath(dir, absl::StrCat(name, suffix)).c_str());
    }
  }
  double load[1] = {0};
  (void)::getloadavg(load, 1);
  std::printf("coordinator bench: %d jobs, %d fake workers, %d round trips, SQLite %s in %s "
              "(load average %.1f on %u cores)\n",
              jobs, workers, round_trips, sqlite3_libversion(), dir.c_str(), load[0],
              std::thread::hardware_concurrency());

  // ---- submit: YAML file to committed rows
  const std::string grid_path = JoinPath(dir, "bench.yaml");
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(grid_path, BenchGrid(jobs)));
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(JoinPath(dir, "llmq.db")));
  RealClock clock;
  LLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Scheduler> scheduler,
                        Scheduler::Create(store.get(), &clock, SchedulerOptions()));
  absl::Time start = absl::Now();
  LLMQ_ASSIGN_OR_RETURN(PreparedSubmission prepared, PrepareSubmission(grid_path, false));
  const double client_s = Seconds(start);
  // The coordinator expands as it stores; one pass of expansion alone, timed apart (and left
  // out of the submit time), says how much of the store phase is expansion.
  absl::Time phase = absl::Now();
  LLMQ_ASSIGN_OR_RETURN(SweepSubmission submission, ExpandSubmission(prepared.request));
  size_t spec_bytes = 0;
  LLMQ_ASSIGN_OR_RETURN(const int64_t expanded,
                        submission.jobs([&](const v1::JobSpec& spec) {
                          spec_bytes += spec.ByteSizeLong();
                          return absl::OkStatus();
                        }));
  spec_bytes /= std::max<int64_t>(expanded, 1);
  const double expand_s = Seconds(phase);
  phase = absl::Now();
  LLMQ_ASSIGN_OR_RETURN(v1::SubmitSweepResponse submitted, scheduler->Submit(submission));
  const double store_s = Seconds(phase);
  const double submit_s = client_s + store_s;
  if (submitted.jobs_new() != jobs) {
    return absl::InternalError(absl::StrCat("expected ", jobs, " new jobs, got ",
                                            submitted.jobs_new()));
  }
  LLMQ_ASSIGN_OR_RETURN(const double raw_bulk_s,
                        RawInserts(JoinPath(dir, "raw-bulk.db"), jobs, spec_bytes, true));
  const double submit_goal_s = kSubmitGoalSecondsPer100k * jobs / 100000;
  std::printf("submit        %d jobs in %.2f s (%s: < %.2f s): client parse+identities+expand "
              "%.2f s, coordinator expand+store %.2f s (of which expansion alone: %.2f s)\n",
              jobs, submit_s, Verdict(submit_s < submit_goal_s), submit_goal_s, client_s,
              store_s, expand_s);
  std::printf("  raw SQLite  %d rows (spec blob %zu B) in one transaction: %.2f s = %.0f rows/s; "
              "store / raw = %.1fx, whole submit / raw = %.1fx\n",
              jobs, spec_bytes, raw_bulk_s, jobs / raw_bulk_s, store_s / raw_bulk_s,
              submit_s / raw_bulk_s);

  // ---- lease + report on that queue
  LLMQ_ASSIGN_OR_RETURN(const double run_s, LeaseAndReport(*scheduler, workers, round_trips));
  const double per_second = round_trips / run_s;
  const int raw_rows = std::max(1000, std::min(round_trips, 20000));
  LLMQ_ASSIGN_OR_RETURN(const double raw_each_s,
                        RawInserts(JoinPath(dir, "raw-each.db"), raw_rows, spec_bytes, false));
  const double raw_per_second = raw_rows / raw_each_s;
  std::printf("lease+report  %d round trips, %d workers, %.2f s = %.0f /s (%s: >= %.0f /s)\n",
              round_trips, workers, run_s, per_second,
              Verdict(per_second >= kRoundTripGoalPerSecond), kRoundTripGoalPerSecond);
  const Store::WriteStats stats = store->write_stats();
  std::printf("  raw SQLite  %d one-row insert transactions: %.0f /s; round trips / raw "
              "transactions = %.2f (store: %lld writes in %lld commits, %.1f per commit)\n",
              raw_rows, raw_per_second, per_second / raw_per_second,
              static_cast<long long>(stats.writes), static_cast<long long>(stats.commits),
              stats.commits > 0 ? double(stats.writes) / stats.commits : 0.0);
  if (absl::GetFlag(FLAGS_dir).empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Coordinator throughput (100k-job submit, lease+report round trips) beside raw SQLite.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_minloglevel = 1;  // one INFO line per report would measure the terminal
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  const absl::Status status = llmq::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "llmq_coord_bench: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
