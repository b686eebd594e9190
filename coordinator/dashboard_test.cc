// The scheduler's counters, /metrics and the dashboard's pages over a scheduler driven by
// hand (a fake clock, the worker's side played by the test).
#include "coordinator/dashboard.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/metrics_page.h"
#include "coordinator/scheduler_test_fixture.h"
#include "storage/sqlite.h"
#include "tests/prometheus_parser.h"

namespace llmq {
namespace {

class DashboardTest : public SchedulerTest {
 protected:
  // Jobs by state as the database file says, read on a connection of our own.
  std::map<std::string, double> DatabaseJobCounts() {
    std::map<std::string, double> counts;
    auto db = sqlite::Connection::Open(path_, sqlite::Connection::Mode::kReadOnly,
                                       absl::Seconds(5));
    EXPECT_TRUE(db.ok()) << db.status();
    auto select = (*db)->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state");
    EXPECT_TRUE(select.ok()) << select.status();
    while (true) {
      auto row = select->Step();
      if (!row.ok() || !*row) break;
      counts[select->Text(0)] = static_cast<double>(select->Int(1));
    }
    return counts;
  }

  PromExposition Scrape() {
    absl::StatusOr<std::string> text = RenderMetricsPage(*store_, scheduler_->metrics());
    EXPECT_TRUE(text.ok()) << text.status();
    absl::StatusOr<PromExposition> parsed = ParsePrometheusText(text.ok() ? *text : "");
    EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << (text.ok() ? *text : "");
    return parsed.ok() ? *parsed : PromExposition();
  }
};

TEST_F(DashboardTest, SchedulerCountsLeasesRetriesExpiriesWaitsAndDurations) {
  const std::string worker = Register("w1");
  Submit(MakeSpecs(2));
  clock_.Advance(absl::Seconds(3));
  std::optional<v1::Lease> first = Lease(worker);  // waited 3 s in the queue
  ASSERT_TRUE(first.has_value());
  Heartbeat(*first, worker);
  clock_.Advance(absl::Seconds(7));
  EXPECT_EQ(Report(*first, worker), v1::RECORDED);  // succeeded 7 s after its lease

  std::optional<v1::Lease> second = Lease(worker);  // waited 10 s
  ASSERT_TRUE(second.has_value());
  clock_.Advance(options_.lease_ttl + absl::Seconds(1));
  ASSERT_TRUE(scheduler_->ExpireLeases().ok());  // no heartbeat: expired, requeued
  const absl::Time eligible = Job(second->job_id()).next_eligible;
  clock_.Advance(absl::Minutes(20));
  std::optional<v1::Lease> retry = Lease(worker);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->attempt(), 2);
  const double retry_wait = absl::ToDoubleSeconds(clock_.Now() - eligible);

  const SchedulerMetrics& m = scheduler_->metrics();
  EXPECT_EQ(m.leases_granted.load(), 3);
  EXPECT_EQ(m.leases_expired.load(), 1);
  EXPECT_EQ(m.retries.load(), 1);
  const Histogram::Snapshot waits = m.queue_wait_seconds.Read();
  EXPECT_EQ(waits.count, 3);
  EXPECT_DOUBLE_EQ(waits.sum, 3 + 10 + retry_wait);
  const Histogram::Snapshot durations = m.job_duration_seconds.Read();
  EXPECT_EQ(durations.count, 1);
  EXPECT_DOUBLE_EQ(durations.sum, 7);
  // 7 s is in the 15 s bucket and not in the 5 s one.
  EXPECT_EQ(durations.cumulative[1], 0);  // le=5
  EXPECT_EQ(durations.cumulative[2], 1);  // le=15
}

TEST_F(DashboardTest, MetricsParseStrictlyAndCountJobsAsTheDatabaseDoes) {
  const std::string worker = Register("w1");
  std::vector<v1::JobSpec> specs = MakeSpecs(4);
  specs[3].set_max_attempts(1);
  Submit(specs);
  std::optional<v1::Lease> a = Lease(worker);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(Report(*a, worker), v1::RECORDED);
  std::optional<v1::Lease> b = Lease(worker);
  ASSERT_TRUE(b.has_value());
  Heartbeat(*b, worker);  // RUNNING
  std::optional<v1::Lease> c = Lease(worker);  // LEASED
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Report(*c, worker, v1::REPORT_FAILED, v1::DETERMINISTIC), v1::RECORDED);  // FAILED

  const PromExposition metrics = Scrape();
  const std::map<std::string, double> database = DatabaseJobCounts();
  double total = 0;
  for (const char* state : {"PENDING", "LEASED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}) {
    const auto in_db = database.find(state);
    EXPECT_EQ(metrics.Value("llmq_jobs", {{"state", state}}),
              in_db == database.end() ? 0.0 : in_db->second)
        << state;
    total += metrics.Value("llmq_jobs", {{"state", state}}).value_or(-1);
  }
  EXPECT_EQ(total, 4);
  EXPECT_EQ(metrics.Value("llmq_jobs", {{"state", "SUCCEEDED"}}), 1);
  EXPECT_EQ(metrics.Value("llmq_jobs", {{"state", "FAILED"}}), 1);
  EXPECT_EQ(metrics.Value("llmq_jobs", {{"state", "RUNNING"}}), 1);
  EXPECT_EQ(metrics.Value("llmq_jobs", {{"state", "PENDING"}}), 1);
  EXPECT_EQ(metrics.Value("llmq_leases_granted_total"), 3);
  EXPECT_EQ(metrics.Value("llmq_workers_alive"), 1);
  EXPECT_EQ(metrics.Value("llmq_workers", {{"state", "active"}}), 1);
  for (const char* histogram :
       {"llmq_queue_wait_seconds", "llmq_job_duration_seconds", "llmq_db_commit_seconds"}) {
    ASSERT_TRUE(metrics.families.count(histogram)) << histogram;
    EXPECT_EQ(metrics.families.at(histogram).type, "histogram");
  }
  EXPECT_EQ(metrics.Value("llmq_queue_wait_seconds_count"), 3);
  // Every write so far committed at least once (register, submit, leases, reports...).
  EXPECT_GE(metrics.Value("llmq_db_commit_seconds_count").value_or(0), 6);
}

TEST_F(DashboardTest, ParserRefusesWhatPrometheusWould) {
  EXPECT_FALSE(ParsePrometheusText("x 1\n").ok());  // no TYPE
  EXPECT_FALSE(ParsePrometheusText("# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n").ok());
  EXPECT_FALSE(ParsePrometheusText("# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n").ok());
  EXPECT_FALSE(ParsePrometheusText("# HELP x h\n# TYPE x gauge\nx one\n").ok());
  EXPECT_FALSE(ParsePrometheusText("# HELP x h\n# TYPE x gauge\nx 1").ok());  // no newline
  EXPECT_FALSE(ParsePrometheusText(  // buckets decrease
                   "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                   "h_sum 1\nh_count 1\n")
                   .ok());
  EXPECT_FALSE(ParsePrometheusText(  // +Inf != count
                   "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                   "h_sum 1\nh_count 3\n")
                   .ok());
  EXPECT_TRUE(ParsePrometheusText(
                  "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                  "h_sum 1.5\nh_count 2\n")
                  .ok());
}

TEST_F(DashboardTest, PagesShowSweepsWorkersFailuresAndResultsEscaped) {
  const std::string worker = Register("host<&>");
  std::vector<v1::JobSpec> specs = MakeSpecs(3);
  specs[0].mutable_model()->set_alias("m<script>alert(1)</script>");
  specs[2].set_max_attempts(1);
  const int64_t sweep = Submit(specs);
  std::optional<v1::Lease> a = Lease(worker);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(Report(*a, worker), v1::RECORDED);  // ppl 3.5
  std::optional<v1::Lease> b = Lease(worker);
  ASSERT_TRUE(b.has_value());
  Heartbeat(*b, worker, "calibrate");
  std::optional<v1::Lease> c = Lease(worker);
  ASSERT_TRUE(c.has_value());
  v1::ReportRequest failure = ReportFor(*c, worker, v1::REPORT_FAILED, v1::DETERMINISTIC);
  failure.set_error("bad <input> & \"quotes\"");
  EXPECT_EQ(Report(failure), v1::RECORDED);

  Dashboard dashboard(store_.get(), &scheduler_->metrics());
  HttpRequest request;
  request.method = "GET";
  request.path = "/";
  const HttpResponse overview = dashboard.Handle(request);
  EXPECT_EQ(overview.status, 200);
  EXPECT_TRUE(absl::StartsWith(overview.content_type, "text/html"));
  EXPECT_FALSE(absl::StrContains(overview.body, "<script>")) << overview.body;
  EXPECT_FALSE(absl::StrContains(overview.body, "<input>")) << overview.body;
  EXPECT_TRUE(absl::StrContains(overview.body, "bad &lt;input&gt; &amp; &quot;quotes&quot;"));
  EXPECT_TRUE(absl::StrContains(overview.body, "host&lt;&amp;&gt;")) << overview.body;
  EXPECT_TRUE(absl::StrContains(overview.body, absl::StrCat("<a href=\"/sweep/", sweep, "\">")));
  EXPECT_TRUE(absl::StrContains(overview.body, "2/3")) << overview.body;  // done
  EXPECT_TRUE(absl::StrContains(overview.body, "calibrate")) << overview.body;  // worker's stage
  EXPECT_TRUE(absl::StrContains(overview.body, "DETERMINISTIC")) << overview.body;

  request.path = absl::StrCat("/sweep/", sweep);
  const HttpResponse page = dashboard.Handle(request);
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(absl::StrContains(page.body, "<table class=\"results\">")) << page.body;
  EXPECT_TRUE(absl::StrContains(page.body, "3.5")) << page.body;  // the result's ppl
  EXPECT_TRUE(absl::StrContains(page.body, "m&lt;script&gt;")) << page.body;
  EXPECT_FALSE(absl::StrContains(page.body, "<script>")) << page.body;
  EXPECT_TRUE(absl::StrContains(page.body, "ETA")) << page.body;

  request.path = "/sweep/999";
  EXPECT_EQ(dashboard.Handle(request).status, 404);
  request.path = "/nothing";
  EXPECT_EQ(dashboard.Handle(request).status, 404);
  request.path = "/metrics";
  const HttpResponse metrics = dashboard.Handle(request);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, kPrometheusContentType);
  EXPECT_TRUE(ParsePrometheusText(metrics.body).ok());
}

}  // namespace
}  // namespace llmq
