// The `llmq-coord` subcommands as functions of plain options (the flags that fill them
// live in llmq_coord_main.cc). Each prints for people on stdout/stderr and returns the
// process exit code: 0 success, 1 failure (or a sweep that ended with failed jobs),
// 2 bad usage or a bad grid file (nothing was written).
#ifndef LLMQ_COORDINATOR_CLI_H_
#define LLMQ_COORDINATOR_CLI_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "report/results_plot.h"
#include "report/results_table.h"
#include "coordinator/server.h"
#include "coordinator/user_client.h"

namespace llmq {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Set by the SIGINT/SIGTERM watcher; long-running commands poll it.
std::atomic<bool>& Interrupted();
// Blocks SIGINT and SIGTERM in every thread and starts a thread that sets Interrupted()
// (and calls `on_signal`, if given) when one arrives. Call before starting threads.
void WatchForInterrupts(std::function<void()> on_signal = nullptr);

int RunServe(const ServerOptions& options);

struct SubmitOptions {
  std::string grid_path;
  ClientOptions client;
  bool coordinator_given = false;  // --coordinator (or LLMQ_COORDINATOR) was set
  bool wait = false;
  bool dry_run = false;
  bool local = false;
  int64_t max_jobs = kDefaultMaxGridJobs;  // refuse larger grids (also the --local coordinator's)
  // --local
  std::string db_path;  // empty: a temporary database
  int workers = 1;
  std::string worker_binary;
  std::vector<std::string> worker_args;
  PivotOptions table;
  std::string format = "markdown";
};
int RunSubmit(const SubmitOptions& options);

int RunStatus(UserClient& client, int64_t sweep_id);  // 0 = every sweep
int RunJobs(UserClient& client, const v1::ListJobsRequest& request);
int RunWorkers(UserClient& client);
int RunCancel(UserClient& client, int64_t sweep_id);
int RunRetry(UserClient& client, int64_t sweep_id, const std::vector<int64_t>& job_ids);

struct ResultsOptions {
  v1::QueryResultsRequest query;
  PivotOptions table;
  std::string format = "markdown";  // markdown | latex | csv | json
  bool long_form = false;           // one row per (job, metric) instead of a pivot
  std::string plot_path;            // also write an SVG chart here
  PlotOptions plot;
};
int RunResults(UserClient& client, const ResultsOptions& options);

struct ExportOptions {
  int64_t sweep_id = 0;
  std::string format = "json";  // json (everything) | csv (long form)
  std::string out_path;         // empty: stdout
};
int RunExport(UserClient& client, const ExportOptions& options);

// Prints the results table of a sweep (`submit --local`, `submit --wait`).
int PrintResultsTable(UserClient& client, int64_t sweep_id, const PivotOptions& table,
                      const std::string& format);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_CLI_H_
