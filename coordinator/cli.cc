// The `llmq-coord` subcommands: serve (and the interrupt watcher every long-running
// subcommand uses), submit, and the queries (status, jobs, workers, cancel, retry, results,
// export).
#include "coordinator/cli.h"

#include <cstdio>
#include <filesystem>
#include <glog/logging.h>
#include <iostream>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "coordinator/grid_submission.h"
#include "coordinator/progress_bar.h"
#include "coordinator/sweep_eta.h"
#include "coordinator/sweep_watch.h"
#include "coordinator/worker_processes.h"
#include "report/table_format.h"

namespace llmq {

std::atomic<bool>& Interrupted() {
  static std::atomic<bool> interrupted{false};
  return interrupted;
}

void WatchForInterrupts(std::function<void()> on_signal) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, on_signal = std::move(on_signal)]() {
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      const bool again = Interrupted().exchange(true);
      LOG(WARNING) << "event=signal_received signal=" << signal;
      if (again) {
        std::fprintf(stderr, "interrupted twice: exiting now\n");
        std::_Exit(130);
      }
      if (on_signal) on_signal();
    }
  }).detach();
}

int RunServe(const ServerOptions& options) {
  static std::atomic<CoordinatorServer*> running{nullptr};
  WatchForInterrupts([] {
    if (CoordinatorServer* server = running.load(); server != nullptr) server->Shutdown();
  });
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "llmq coordinator serving on %s (database %s); Ctrl-C to stop\n",
               (*server)->address().c_str(), options.db_path.c_str());
  if (!(*server)->http_url().empty()) {
    std::fprintf(stderr, "dashboard on %s/ and metrics on %s/metrics\n",
                 (*server)->http_url().c_str(), (*server)->http_url().c_str());
  }
  running.store(server->get());
  if (Interrupted().load()) (*server)->Shutdown();
  // Only the interrupt watcher shuts the server down; once it has, nothing else uses it.
  (*server)->WaitForShutdown();
  running.store(nullptr);
  return kExitOk;
}

}  // namespace llmq

// `llmq-coord submit`: to a running coordinator, or (--local, or when none answers) to an
// embedded one with local worker processes for this one sweep.
namespace llmq {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

void PrintSubmitted(const v1::SubmitSweepResponse& response, const std::string& where) {
  std::fprintf(stderr, "sweep %lld: %lld jobs (%lld new, %lld already done, %lld in progress)%s\n",
               static_cast<long long>(response.sweep_id()),
               static_cast<long long>(response.jobs_total()),
               static_cast<long long>(response.jobs_new()),
               static_cast<long long>(response.jobs_already_done()),
               static_cast<long long>(response.jobs_in_progress()), where.c_str());
}

std::string Megabytes(int64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6);
}

// The cost model's prediction per model and method (coordinator/cost_model.h).
void PrintEstimates(const v1::SubmitSweepResponse& response) {
  Table table;
  table.header = {"model", "method", "jobs", "new", "per job (s)", "peak memory", "rows added",
                  "predicted from"};
  for (const v1::CostEstimate& e : response.estimates()) {
    table.rows.push_back({e.model(), e.method(), absl::StrCat(e.jobs()), absl::StrCat(e.jobs_new()),
                          absl::StrFormat("%.1f", e.seconds_per_job()), Megabytes(e.peak_memory_bytes()),
                          absl::StrCat(e.result_rows(), " results, ", e.metric_rows(), " metrics"),
                          e.basis()});
  }
  std::cout << RenderMarkdown(table);
  std::cout << absl::StrFormat("sweep: %d new jobs, predicted %.1f s on %d registered worker(s)\n",
                               response.jobs_new(), response.predicted_seconds(), response.workers());
}

// Failed and cancelled jobs with their errors, on stderr. Returns how many.
int64_t ReportUnfinished(UserClient& client, int64_t sweep_id) {
  v1::ListJobsRequest request;
  request.set_sweep_id(sweep_id);
  request.add_states(v1::FAILED);
  request.add_states(v1::CANCELLED);
  absl::StatusOr<v1::ListJobsResponse> jobs = client.ListJobs(request);
  if (!jobs.ok()) return 0;
  for (const v1::JobInfo& job : jobs->jobs()) {
    std::fprintf(stderr, "job %lld %s (%s %s, %s): %s%s%s\n",
                 static_cast<long long>(job.job_id()), v1::JobState_Name(job.state()).c_str(),
                 job.spec().model().alias().c_str(), job.spec().method().name().c_str(),
                 job.spec().task().name().c_str(),
                 job.error_class() == v1::ERROR_CLASS_UNSPECIFIED
                     ? ""
                     : v1::ErrorClass_Name(job.error_class()).c_str(),
                 job.error().empty() ? "" : ": ", job.error().c_str());
  }
  return jobs->jobs_size();
}

int RunLocally(const PreparedSubmission& prepared, const SubmitOptions& options) {
  if (options.dry_run) {
    std::fprintf(stderr, "%s: %lld jobs (dry run: nothing submitted)\n",
                 options.grid_path.c_str(), static_cast<long long>(prepared.jobs));
    return kExitOk;
  }
  absl::StatusOr<std::string> worker_binary = FindWorkerBinary(options.worker_binary);
  if (!worker_binary.ok()) return Fail(worker_binary.status());
  std::string scratch = (std::filesystem::temp_directory_path() / "llmq-local-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) return Fail(absl::InternalError("mkdtemp failed"));

  ServerOptions server_options;
  server_options.db_path = options.db_path.empty() ? scratch + "/llmq.db" : options.db_path;
  server_options.listen = "127.0.0.1:0";
  server_options.lease_recheck = absl::Milliseconds(500);
  server_options.max_jobs = options.max_jobs;
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(server_options);
  if (!server.ok()) return Fail(server.status());
  ClientOptions client_options;
  client_options.target = (*server)->address();
  std::unique_ptr<UserClient> client = std::move(UserClient::Connect(client_options)).value();
  absl::StatusOr<v1::SubmitSweepResponse> submitted = client->SubmitSweep(prepared.request);
  if (!submitted.ok()) return Fail(submitted.status());
  PrintSubmitted(*submitted, absl::StrCat(" on a local coordinator, ", options.workers,
                                          " worker(s)"));

  WorkerProcesses workers;
  bool finished = false;
  if (submitted->jobs_new() + submitted->jobs_in_progress() > 0) {
    absl::Status started = workers.Start(
        *worker_binary,
        [&] {
          std::vector<std::string> args = {absl::StrCat("--coordinator=", (*server)->address())};
          args.insert(args.end(), options.worker_args.begin(), options.worker_args.end());
          return args;
        }(),
        options.workers, scratch);
    if (!started.ok()) return Fail(started);
    WatchOptions watch;
    watch.check = [&]() -> absl::Status {
      if (Interrupted().load()) return absl::CancelledError("interrupted");
      if (workers.Running() == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("every local worker exited before the sweep finished; see ",
                         workers.log_paths().front()));
      }
      return absl::OkStatus();
    };
    absl::StatusOr<v1::GetSweepResponse> done = WatchSweep(*client, submitted->sweep_id(), watch);
    workers.Stop(absl::Seconds(10));
    if (!done.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(done.status().message()).c_str());
    }
    finished = done.ok();
  } else {
    finished = true;
  }
  int code = PrintResultsTable(*client, submitted->sweep_id(), options.table, options.format);
  if (ReportUnfinished(*client, submitted->sweep_id()) > 0 || !finished) code = kExitFailure;
  (*server)->Shutdown();
  if (options.db_path.empty()) {
    std::fprintf(stderr, "(the database was temporary; pass --db FILE to keep results)\n");
  } else {
    std::fprintf(stderr, "results kept in %s\n", options.db_path.c_str());
  }
  if (code == kExitOk) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  } else {
    std::fprintf(stderr, "worker logs kept in %s\n", scratch.c_str());
  }
  return code;
}

}  // namespace

int RunSubmit(const SubmitOptions& options) {
  absl::StatusOr<PreparedSubmission> prepared =
      PrepareSubmission(options.grid_path, options.dry_run, options.max_jobs);
  if (!prepared.ok()) {
    // Grid errors already read `file:line:column: ...`, one per line.
    std::fprintf(stderr, "%s\n", std::string(prepared.status().message()).c_str());
    return kExitUsage;
  }
  if (options.local) return RunLocally(*prepared, options);
  absl::StatusOr<std::unique_ptr<UserClient>> client = UserClient::Connect(options.client);
  if (!client.ok()) return Fail(client.status());
  if (!(*client)->IsServing(absl::Seconds(2))) {
    if (options.coordinator_given) {
      return Fail(absl::UnavailableError(
          absl::StrCat("no coordinator answers at ", options.client.target)));
    }
    std::fprintf(stderr, "no coordinator at %s: running the sweep here (--local)\n",
                 options.client.target.c_str());
    return RunLocally(*prepared, options);
  }
  absl::StatusOr<v1::SubmitSweepResponse> submitted = (*client)->SubmitSweep(prepared->request);
  if (!submitted.ok()) {
    std::fprintf(stderr, "%s\n", std::string(submitted.status().message()).c_str());
    return absl::IsInvalidArgument(submitted.status()) ? kExitUsage : kExitFailure;
  }
  if (options.dry_run) {
    PrintSubmitted(*submitted, " (dry run: nothing submitted)");
    PrintEstimates(*submitted);
    return kExitOk;
  }
  std::cout << submitted->sweep_id() << std::endl;
  PrintSubmitted(*submitted, "");
  if (!options.wait) return kExitOk;
  WatchOptions watch;
  watch.check = []() -> absl::Status {
    return Interrupted().load() ? absl::CancelledError("stopped waiting (the sweep goes on)")
                                : absl::OkStatus();
  };
  absl::StatusOr<v1::GetSweepResponse> done =
      WatchSweep(**client, submitted->sweep_id(), watch);
  if (!done.ok()) return Fail(done.status());
  const SweepCounts counts = CountsOf(done->summary());
  std::fprintf(stderr, "sweep %lld finished: %lld succeeded, %lld failed, %lld cancelled\n",
               static_cast<long long>(submitted->sweep_id()),
               static_cast<long long>(counts.succeeded), static_cast<long long>(counts.failed),
               static_cast<long long>(counts.cancelled));
  ReportUnfinished(**client, submitted->sweep_id());
  return counts.failed + counts.cancelled > 0 ? kExitFailure : kExitOk;
}

}  // namespace llmq

// `llmq-coord status | jobs | workers | cancel | retry | results | export`.
namespace llmq {
namespace {

std::string When(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(unix_seconds),
                          absl::LocalTimeZone());
}

std::string Ago(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const absl::Duration ago = absl::Now() - absl::FromUnixSeconds(unix_seconds);
  return absl::StrCat(absl::FormatDuration(absl::Trunc(ago, absl::Seconds(1))), " ago");
}

std::string Bytes(int64_t bytes) {
  if (bytes <= 0) return "-";
  return absl::StrFormat("%.1f GiB", bytes / double(int64_t{1} << 30));
}

std::string Params(const google::protobuf::Map<std::string, std::string>& params) {
  std::map<std::string, std::string> sorted(params.begin(), params.end());
  return absl::StrJoin(sorted, " ", absl::PairFormatter("="));
}

std::string ProgressText(const v1::Progress& progress) {
  if (progress.stage().empty()) return "-";
  std::string text = progress.stage();
  if (progress.total() > 0) absl::StrAppend(&text, " ", progress.step(), "/", progress.total());
  if (!progress.message().empty()) absl::StrAppend(&text, " ", progress.message());
  return text;
}

}  // namespace

int RunStatus(UserClient& client, int64_t sweep_id) {
  if (sweep_id == 0) {
    absl::StatusOr<v1::ListSweepsResponse> sweeps = client.ListSweeps();
    if (!sweeps.ok()) return Fail(sweeps.status());
    Table table;
    table.header = {"sweep", "name", "created", "jobs", "pending", "running", "succeeded",
                    "failed", "cancelled", "ETA"};
    for (const v1::SweepSummary& sweep : sweeps->sweeps()) {
      const SweepCounts c = CountsOf(sweep);
      std::string eta = "-";
      if (!c.finished()) {
        absl::StatusOr<v1::GetSweepResponse> detail = client.GetSweep(sweep.sweep_id());
        if (detail.ok() && detail->has_eta()) eta = FormatEta(detail->eta());
      }
      table.rows.push_back({absl::StrCat(sweep.sweep_id()), sweep.name(), When(sweep.created_unix()),
                            absl::StrCat(c.total), absl::StrCat(c.pending), absl::StrCat(c.running),
                            absl::StrCat(c.succeeded), absl::StrCat(c.failed),
                            absl::StrCat(c.cancelled), eta});
    }
    std::cout << (table.rows.empty() ? "no sweeps yet\n" : RenderMarkdown(table));
    return kExitOk;
  }
  absl::StatusOr<v1::GetSweepResponse> sweep = client.GetSweep(sweep_id);
  if (!sweep.ok()) return Fail(sweep.status());
  const SweepCounts c = CountsOf(sweep->summary());
  std::cout << "sweep " << sweep_id << " \"" << sweep->summary().name() << "\", created "
            << When(sweep->summary().created_unix()) << "\n"
            << "  " << c.total << " jobs: " << c.succeeded << " succeeded, " << c.failed
            << " failed, " << c.cancelled << " cancelled, " << c.running << " running, "
            << c.pending << " pending\n";
  if (sweep->has_eta()) {
    const v1::SweepEta& eta = sweep->eta();
    std::cout << "  ETA " << FormatEta(eta);
    if (eta.workers() > 0) {
      std::cout << " on " << eta.workers() << " active worker(s) (" << eta.jobs_recorded() << " of "
                << eta.jobs() << " unfinished jobs timed from finished jobs of the same kind)";
    }
    std::cout << "\n";
  }
  if (sweep->running_size() > 0) {
    Table table;
    table.header = {"job", "worker", "attempt", "progress"};
    for (const v1::JobInfo& job : sweep->running()) {
      table.rows.push_back({absl::StrCat(job.job_id()), job.worker_id(),
                            absl::StrCat(job.attempts()), ProgressText(job.progress())});
    }
    std::cout << "\n" << RenderMarkdown(table);
  }
  if (sweep->costs_size() > 0) {
    Table table;
    table.header = {"model", "method", "jobs", "finished", "predicted (s)", "actual (s)",
                    "actual / predicted"};
    for (const v1::CostComparison& cost : sweep->costs()) {
      table.rows.push_back(
          {cost.model(), cost.method(), absl::StrCat(cost.jobs()), absl::StrCat(cost.finished()),
           absl::StrFormat("%.1f", cost.predicted_seconds()), absl::StrFormat("%.1f", cost.actual_seconds()),
           cost.predicted_seconds() > 0
               ? absl::StrFormat("%.2f", cost.actual_seconds() / cost.predicted_seconds())
               : "-"});
    }
    std::cout << "\njob time, predicted at submission vs recorded (finished jobs):\n"
              << RenderMarkdown(table);
  }
  return kExitOk;
}

int RunJobs(UserClient& client, const v1::ListJobsRequest& request) {
  absl::StatusOr<v1::ListJobsResponse> jobs = client.ListJobs(request);
  if (!jobs.ok()) return Fail(jobs.status());
  Table table;
  table.header = {"job", "state", "model", "method", "params", "task", "task params",
                  "attempts", "worker", "progress / error"};
  for (const v1::JobInfo& job : jobs->jobs()) {
    std::string detail = ProgressText(job.progress());
    if (!job.error().empty()) {
      detail = absl::StrCat(v1::ErrorClass_Name(job.error_class()), ": ", job.error());
    }
    if (job.state() == v1::SUCCEEDED || job.state() == v1::PENDING) {
      if (job.error().empty()) detail = "-";
    }
    table.rows.push_back({absl::StrCat(job.job_id()), v1::JobState_Name(job.state()),
                          job.spec().model().alias(), job.spec().method().name(),
                          Params(job.spec().method().params()), job.spec().task().name(),
                          Params(job.spec().task().params()), absl::StrCat(job.attempts()),
                          job.worker_id().empty() ? "-" : job.worker_id(), detail});
  }
  std::cout << (table.rows.empty() ? "no jobs\n" : RenderMarkdown(table));
  return kExitOk;
}

int RunWorkers(UserClient& client) {
  absl::StatusOr<v1::ListWorkersResponse> workers = client.ListWorkers();
  if (!workers.ok()) return Fail(workers.status());
  // Slurm's columns only when some worker runs under Slurm. "array task" is written as
  // squeue and scancel write it: <array job id>_<task id>.
  bool any_slurm = false;
  for (const v1::WorkerInfo& worker : workers->workers()) any_slurm |= worker.has_slurm();
  Table table;
  table.header = {"worker", "host", "devices", "memory", "version", "state", "last seen", "job"};
  if (any_slurm) table.header.insert(table.header.end(), {"slurm job", "array task"});
  for (const v1::WorkerInfo& worker : workers->workers()) {
    std::vector<std::string>& row = table.rows.emplace_back(std::vector<std::string>{
        worker.worker_id(), worker.host(), absl::StrJoin(worker.devices(), ","),
        Bytes(worker.memory_bytes()), worker.version(), worker.state(),
        Ago(worker.last_seen_unix()),
        worker.current_job_id() > 0 ? absl::StrCat(worker.current_job_id()) : "-"});
    if (!any_slurm) continue;
    const v1::SlurmJob& slurm = worker.slurm();
    row.push_back(worker.has_slurm() ? absl::StrCat(slurm.job_id()) : "-");
    row.push_back(worker.has_slurm() && slurm.array_job_id() != 0
                      ? absl::StrCat(slurm.array_job_id(), "_", slurm.array_task_id())
                      : "-");
  }
  std::cout << (table.rows.empty() ? "no workers registered\n" : RenderMarkdown(table));
  return kExitOk;
}

int RunCancel(UserClient& client, int64_t sweep_id) {
  absl::StatusOr<v1::CancelSweepResponse> cancelled = client.CancelSweep(sweep_id);
  if (!cancelled.ok()) return Fail(cancelled.status());
  std::cout << "sweep " << sweep_id << ": " << cancelled->jobs_cancelled()
            << " jobs cancelled (running ones stop at their next heartbeat)\n";
  return kExitOk;
}

int RunRetry(UserClient& client, int64_t sweep_id, const std::vector<int64_t>& job_ids) {
  v1::RetryJobsRequest request;
  request.set_sweep_id(sweep_id);
  for (int64_t id : job_ids) request.add_job_ids(id);
  absl::StatusOr<v1::RetryJobsResponse> retried = client.RetryJobs(request);
  if (!retried.ok()) return Fail(retried.status());
  std::cout << "sweep " << sweep_id << ": " << retried->jobs_requeued() << " jobs requeued\n";
  return kExitOk;
}

int RunResults(UserClient& client, const ResultsOptions& options) {
  v1::QueryResultsRequest request = options.query;
  // Paired differences resample the per-example scores; nothing else needs them.
  if (options.table.ci && options.table.delta) request.set_with_example_scores(true);
  absl::StatusOr<v1::QueryResultsResponse> results = client.QueryResults(request);
  if (!results.ok()) return Fail(results.status());
  const std::vector<v1::ResultRow> rows(results->rows().begin(), results->rows().end());
  if (rows.empty()) {
    std::fprintf(stderr, "no results yet\n");
    return kExitOk;
  }
  // --method=rtn --delta: the baselines the filter left out are still what Δ compares to.
  std::vector<v1::ResultRow> references;
  if (options.table.delta && !options.query.method().empty() &&
      options.query.method() != kBaselineMethod) {
    v1::QueryResultsRequest query = request;
    query.set_method(kBaselineMethod);
    absl::StatusOr<v1::QueryResultsResponse> baselines = client.QueryResults(query);
    if (!baselines.ok()) return Fail(baselines.status());
    references.assign(baselines->rows().begin(), baselines->rows().end());
  }
  absl::StatusOr<std::string> text =
      options.long_form ? RenderTable(LongResults(rows), options.format)
                        : RenderResults(rows, options.table, options.format, references);
  if (!text.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(text.status().message()).c_str());
    return kExitUsage;
  }
  std::cout << *text;
  if (options.plot_path.empty()) return kExitOk;
  absl::StatusOr<std::string> svg = PlotResults(rows, options.plot);
  if (!svg.ok()) return Fail(svg.status());
  absl::Status written = WriteFileAtomically(options.plot_path, *svg);
  if (!written.ok()) return Fail(written);
  std::fprintf(stderr, "wrote %s\n", options.plot_path.c_str());
  return kExitOk;
}

int PrintResultsTable(UserClient& client, int64_t sweep_id, const PivotOptions& table,
                      const std::string& format) {
  ResultsOptions options;
  options.query.set_sweep_id(sweep_id);
  options.table = table;
  options.format = format;
  return RunResults(client, options);
}

int RunExport(UserClient& client, const ExportOptions& options) {
  if (options.format != "json" && options.format != "csv") {
    std::fprintf(stderr, "error: --format must be json or csv\n");
    return kExitUsage;
  }
  v1::QueryResultsRequest query;
  query.set_sweep_id(options.sweep_id);
  absl::StatusOr<v1::QueryResultsResponse> results = client.QueryResults(query);
  if (!results.ok()) return Fail(results.status());
  const std::vector<v1::ResultRow> rows(results->rows().begin(), results->rows().end());
  const std::string text =
      options.format == "json" ? ResultsToJson(rows) : RenderCsv(LongResults(rows));
  if (options.out_path.empty()) {
    std::cout << text;
    return kExitOk;
  }
  absl::Status written = WriteFileAtomically(options.out_path, text);
  if (!written.ok()) return Fail(written);
  std::fprintf(stderr, "wrote %zu results to %s\n", rows.size(), options.out_path.c_str());
  return kExitOk;
}

}  // namespace llmq
