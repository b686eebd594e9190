#include "coordinator/dashboard.h"

#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/metrics_page.h"
#include "coordinator/progress_bar.h"
#include "coordinator/store_codec.h"
#include "coordinator/sweep_eta.h"
#include "coordinator/sweep_reads.h"
#include "report/results_table.h"
#include "report/table_format.h"

namespace llmq {
namespace {

constexpr int kFailedJobsShown = 50;

constexpr char kStyle[] = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
.sub { color: #666; }
table { border-collapse: collapse; margin: .3em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: flex; width: 16em; height: .9em; background: #e8e8e8; border-radius: .2em; overflow: hidden; }
.bar span { display: block; height: 100%; }
.ok { background: #3a9a4a; } .failed { background: #c8382f; } .cancelled { background: #999; }
.running { background: #3a78c8; }
.error { color: #a02820; white-space: pre-wrap; max-width: 60em; }
a { color: #1a5fb4; }
)";

std::string Page(const std::string& title, const std::string& body, bool refresh) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
      refresh ? "<meta http-equiv=\"refresh\" content=\"5\">" : "", "<title>",
      EscapeHtml(title), "</title><style>", kStyle, "</style></head>\n<body>\n", body,
      "</body></html>\n");
}

std::string When(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::UnixEpoch()) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

std::string ProgressBarHtml(const SweepCounts& c) {
  auto width = [&](int64_t n) {
    return absl::StrFormat("%.2f%%", c.total > 0 ? 100.0 * static_cast<double>(n) / c.total : 0.0);
  };
  const int64_t ended = c.succeeded + c.failed + c.cancelled;
  return absl::StrCat(
      "<div class=\"bar\" title=\"", ended, "/", c.total, " done\"><span class=\"ok\" style=\"width:",
      width(c.succeeded), "\"></span><span class=\"failed\" style=\"width:", width(c.failed),
      "\"></span><span class=\"cancelled\" style=\"width:", width(c.cancelled),
      "\"></span><span class=\"running\" style=\"width:", width(c.running), "\"></span></div>");
}

std::string StageText(const v1::Progress& progress) {
  if (progress.stage().empty()) return "starting";
  std::string text = progress.stage();
  if (progress.total() > 0) absl::StrAppend(&text, " ", progress.step(), "/", progress.total());
  if (!progress.message().empty()) absl::StrAppend(&text, " ", progress.message());
  return text;
}

// The method and the parameters people tell variants apart by ("gptq bits=4 group_size=32");
// `llmq-coord jobs` lists them all.
std::string MethodText(const v1::JobSpec& spec) {
  std::string text = spec.method().name().empty() ? "none" : spec.method().name();
  for (const char* name : {"bits", "group_size"}) {
    auto it = spec.method().params().find(name);
    if (it != spec.method().params().end()) absl::StrAppend(&text, " ", name, "=", it->second);
  }
  return text;
}

// Failed jobs with their last errors.
std::string FailedJobsHtml(const std::vector<v1::JobInfo>& failed) {
  Table table;
  table.header = {"job", "model", "method", "task", "attempts", "error class", "error"};
  for (const v1::JobInfo& job : failed) {
    table.rows.push_back({absl::StrCat(job.job_id()), job.spec().model().alias(),
                          MethodText(job.spec()), job.spec().task().name(),
                          absl::StrCat(job.attempts()),
                          job.error_class() == v1::ERROR_CLASS_UNSPECIFIED
                              ? "-"
                              : v1::ErrorClass_Name(job.error_class()),
                          job.error()});
  }
  return absl::StrReplaceAll(RenderHtml(table), {{"<table>", "<table class=\"failed-jobs\">"}});
}

}  // namespace

HttpResponse Dashboard::Handle(const HttpRequest& request) {
  HttpResponse response;
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> body;
  if (request.path == "/metrics") {
    body = RenderMetricsPage(*store_, *metrics_);
    response.content_type = kPrometheusContentType;
  } else if (request.path == "/" || request.path == "/index.html") {
    body = RenderOverview(now);
    response.content_type = "text/html; charset=utf-8";
  } else if (absl::StartsWith(request.path, "/sweep/")) {
    int64_t sweep_id = 0;
    response.content_type = "text/html; charset=utf-8";
    if (absl::SimpleAtoi(request.path.substr(7), &sweep_id) && sweep_id > 0) {
      body = RenderSweep(sweep_id, now);
    } else {
      body = absl::NotFoundError(absl::StrCat("no page ", request.path));
    }
  } else {
    body = absl::NotFoundError(absl::StrCat("no page ", request.path));
    response.content_type = "text/html; charset=utf-8";
  }
  if (body.ok()) {
    response.body = *std::move(body);
    return response;
  }
  response.status = absl::IsNotFound(body.status()) ? 404 : 500;
  const std::string message(body.status().message());
  response.body = response.content_type == kPrometheusContentType
                      ? message + "\n"
                      : Page("llmq", absl::StrCat("<h1>", response.status, "</h1><p>",
                                                  EscapeHtml(message), "</p><p><a href=\"/\">all sweeps</a></p>"),
                             false);
  return response;
}

absl::StatusOr<std::string> Dashboard::RenderOverview(absl::Time now) {
  std::vector<v1::SweepSummary> sweeps;
  std::map<int64_t, v1::SweepEta> etas;
  std::vector<v1::WorkerInfo> workers;
  std::map<int64_t, v1::JobInfo> running;
  std::vector<v1::JobInfo> failed;
  int64_t failed_total = 0;
  LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<SweepRow> rows, txn.ListSweeps());
    for (const SweepRow& row : rows) {
      sweeps.push_back(ToProto(row));
      if (!CountsOf(sweeps.back()).finished()) {
        LLMQ_ASSIGN_OR_RETURN(etas[row.id], ReadSweepEta(txn, row.id, now));
      }
    }
    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> worker_rows, txn.ListWorkers());
    for (const WorkerRow& row : worker_rows) workers.push_back(ToProto(row));
    ReadTxn::JobFilter filter;
    filter.states = {JobState::kLeased, JobState::kRunning};
    LLMQ_ASSIGN_OR_RETURN(std::vector<JobRow> jobs, txn.ListJobs(filter));
    for (const JobRow& job : jobs) {
      LLMQ_ASSIGN_OR_RETURN(running[job.id], ToProto(job));
    }
    LLMQ_ASSIGN_OR_RETURN(auto by_state, txn.JobCountsByState());
    failed_total = by_state[JobState::kFailed];
    filter.states = {JobState::kFailed};
    filter.limit = kFailedJobsShown;
    LLMQ_ASSIGN_OR_RETURN(jobs, txn.ListJobs(filter));
    for (const JobRow& job : jobs) {
      LLMQ_ASSIGN_OR_RETURN(failed.emplace_back(), ToProto(job));
    }
    return absl::OkStatus();
  }));

  std::string body = absl::StrCat("<h1>llmq coordinator</h1><p class=\"sub\">version ",
                                  EscapeHtml(kLlmqVersion), " &middot; ", When(now),
                                  " &middot; <a href=\"/metrics\">metrics</a></p>\n");
  absl::StrAppend(&body, "<h2>Sweeps</h2>\n");
  if (sweeps.empty()) {
    body += "<p>No sweeps yet.</p>\n";
  } else {
    body += "<table class=\"sweeps\"><thead><tr><th class=\"num\">sweep</th><th>name</th>"
            "<th>created</th><th>progress</th><th class=\"num\">done</th>"
            "<th class=\"num\">failed</th><th class=\"num\">running</th>"
            "<th class=\"num\">pending</th><th>ETA</th></tr></thead><tbody>\n";
    for (const v1::SweepSummary& sweep : sweeps) {
      const SweepCounts c = CountsOf(sweep);
      auto eta = etas.find(sweep.sweep_id());
      absl::StrAppend(&body, "<tr><td class=\"num\"><a href=\"/sweep/", sweep.sweep_id(), "\">",
                      sweep.sweep_id(), "</a></td><td>", EscapeHtml(sweep.name()), "</td><td>",
                      When(absl::FromUnixSeconds(sweep.created_unix())), "</td><td>",
                      ProgressBarHtml(c), "</td><td class=\"num\">",
                      c.succeeded + c.failed + c.cancelled, "/", c.total,
                      "</td><td class=\"num\">", c.failed, "</td><td class=\"num\">", c.running,
                      "</td><td class=\"num\">", c.pending, "</td><td>",
                      c.finished() ? "finished"
                                   : EscapeHtml(eta == etas.end() ? "-" : FormatEta(eta->second)),
                      "</td></tr>\n");
    }
    body += "</tbody></table>\n";
  }

  absl::StrAppend(&body, "<h2>Workers</h2>\n");
  if (workers.empty()) {
    body += "<p>No workers registered.</p>\n";
  } else {
    body += "<table class=\"workers\"><thead><tr><th>worker</th><th>host</th><th>devices</th>"
            "<th>state</th><th>last seen</th><th class=\"num\">job</th><th>stage</th>"
            "</tr></thead><tbody>\n";
    for (const v1::WorkerInfo& worker : workers) {
      std::string job = "-", stage = "-";
      if (worker.current_job_id() > 0) {
        job = absl::StrCat(worker.current_job_id());
        auto it = running.find(worker.current_job_id());
        if (it != running.end()) {
          stage = EscapeHtml(absl::StrCat(StageText(it->second.progress()), " (",
                                          it->second.spec().model().alias(), " ",
                                          MethodText(it->second.spec()), ", ",
                                          it->second.spec().task().name(), ")"));
        }
      }
      absl::StrAppend(&body, "<tr><td>", EscapeHtml(worker.worker_id()), "</td><td>",
                      EscapeHtml(worker.host()), "</td><td>",
                      EscapeHtml(absl::StrJoin(worker.devices(), ", ")), "</td><td>",
                      EscapeHtml(worker.state()), "</td><td>",
                      When(absl::FromUnixSeconds(worker.last_seen_unix())),
                      "</td><td class=\"num\">", job, "</td><td>", stage, "</td></tr>\n");
    }
    body += "</tbody></table>\n";
  }

  absl::StrAppend(&body, "<h2>Failed jobs</h2>\n");
  if (failed.empty()) {
    body += "<p>None.</p>\n";
  } else {
    if (failed_total > static_cast<int64_t>(failed.size())) {
      absl::StrAppend(&body, "<p class=\"sub\">the first ", failed.size(), " of ", failed_total,
                      " (<code>llmq-coord jobs</code> lists them all)</p>\n");
    }
    body += FailedJobsHtml(failed);
  }
  return Page("llmq: sweeps", body, /*refresh=*/true);
}

absl::StatusOr<std::string> Dashboard::RenderSweep(int64_t sweep_id, absl::Time now) {
  v1::GetSweepResponse sweep;
  std::vector<v1::ResultRow> results;
  std::vector<v1::JobInfo> failed;
  LLMQ_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_RETURN_IF_ERROR(ReadSweepDetail(txn, sweep_id, now, &sweep));
    ResultsFilter filter;
    filter.sweep_id = sweep_id;
    LLMQ_ASSIGN_OR_RETURN(std::vector<ResultRow> rows, txn.QueryResults(filter));
    for (const ResultRow& row : rows) {
      LLMQ_ASSIGN_OR_RETURN(results.emplace_back(), ToProto(row));
    }
    ReadTxn::JobFilter jobs;
    jobs.sweep_id = sweep_id;
    jobs.states = {JobState::kFailed};
    jobs.limit = kFailedJobsShown;
    LLMQ_ASSIGN_OR_RETURN(std::vector<JobRow> failed_rows, txn.ListJobs(jobs));
    for (const JobRow& job : failed_rows) {
      LLMQ_ASSIGN_OR_RETURN(failed.emplace_back(), ToProto(job));
    }
    return absl::OkStatus();
  }));
  const SweepCounts c = CountsOf(sweep.summary());
  const std::string title = absl::StrCat("sweep ", sweep_id, ": ", sweep.summary().name());
  std::string body = absl::StrCat(
      "<p class=\"sub\"><a href=\"/\">all sweeps</a></p><h1>", EscapeHtml(title), "</h1>\n",
      "<p class=\"sub\">created ", When(absl::FromUnixSeconds(sweep.summary().created_unix())),
      "</p>\n", ProgressBarHtml(c), "<p class=\"counts\">", c.succeeded + c.failed + c.cancelled,
      "/", c.total, " done: ", c.succeeded, " succeeded, ", c.failed, " failed, ", c.cancelled,
      " cancelled, ", c.running, " running, ", c.pending, " pending");
  if (sweep.has_eta()) {
    absl::StrAppend(&body, " &middot; ETA ", EscapeHtml(FormatEta(sweep.eta())));
  }
  body += "</p>\n";
  if (sweep.running_size() > 0) {
    Table table;
    table.header = {"job", "worker", "attempt", "model", "method", "task", "stage"};
    for (const v1::JobInfo& job : sweep.running()) {
      table.rows.push_back({absl::StrCat(job.job_id()), job.worker_id(), absl::StrCat(job.attempts()),
                            job.spec().model().alias(), MethodText(job.spec()),
                            job.spec().task().name(), StageText(job.progress())});
    }
    absl::StrAppend(&body, "<h2>Running</h2>\n", RenderHtml(table));
  }
  absl::StrAppend(&body, "<h2>Results</h2>\n");
  if (results.empty()) {
    body += "<p>No results yet.</p>\n";
  } else {
    // The table `llmq-coord results ID` prints, with its defaults.
    absl::StrAppend(&body, absl::StrReplaceAll(RenderHtml(PivotResults(results, PivotOptions())),
                                               {{"<table>", "<table class=\"results\">"}}));
  }
  if (!failed.empty()) {
    absl::StrAppend(&body, "<h2>Failed jobs</h2>\n", FailedJobsHtml(failed));
  }
  return Page(absl::StrCat("llmq: ", title), body, /*refresh=*/!c.finished());
}

}  // namespace llmq
