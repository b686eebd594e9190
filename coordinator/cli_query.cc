// `llmq-coord status | jobs | workers | cancel | retry | results | export`.
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "coordinator/cli.h"
#include "coordinator/progress_bar.h"
#include "coordinator/table_format.h"

namespace llmq {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

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
                    "failed", "cancelled"};
    for (const v1::SweepSummary& sweep : sweeps->sweeps()) {
      const SweepCounts c = CountsOf(sweep);
      table.rows.push_back({absl::StrCat(sweep.sweep_id()), sweep.name(), When(sweep.created_unix()),
                            absl::StrCat(c.total), absl::StrCat(c.pending), absl::StrCat(c.running),
                            absl::StrCat(c.succeeded), absl::StrCat(c.failed),
                            absl::StrCat(c.cancelled)});
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
  if (sweep->running_size() > 0) {
    Table table;
    table.header = {"job", "worker", "attempt", "progress"};
    for (const v1::JobInfo& job : sweep->running()) {
      table.rows.push_back({absl::StrCat(job.job_id()), job.worker_id(),
                            absl::StrCat(job.attempts()), ProgressText(job.progress())});
    }
    std::cout << "\n" << RenderMarkdown(table);
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
  Table table;
  table.header = {"worker", "host", "devices", "memory", "version", "state", "last seen", "job"};
  for (const v1::WorkerInfo& worker : workers->workers()) {
    table.rows.push_back(
        {worker.worker_id(), worker.host(), absl::StrJoin(worker.devices(), ","),
         Bytes(worker.memory_bytes()), worker.version(), worker.state(),
         Ago(worker.last_seen_unix()),
         worker.current_job_id() > 0 ? absl::StrCat(worker.current_job_id()) : "-"});
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
  absl::StatusOr<v1::QueryResultsResponse> results = client.QueryResults(options.query);
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
    v1::QueryResultsRequest query = options.query;
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
