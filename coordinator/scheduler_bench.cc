// Measures the scheduler on a real SQLite file with in-process fake workers:
//   1. submitting a grid of --jobs jobs (one transaction),
//   2. lease + report round trips per second with --workers threads until the queue is
//      drained.
// Example: llmq-scheduler-bench --jobs=100000 --workers=4 --db=/tmp/bench.db
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/version.h"
#include "coordinator/scheduler.h"

ABSL_FLAG(int, jobs, 100000, "jobs in the submitted grid");
ABSL_FLAG(int, workers, 4, "fake worker threads");
ABSL_FLAG(std::string, db, "/tmp/llmq-scheduler-bench.db", "database file (recreated)");

namespace llmq {
namespace {

v1::JobSpec BenchSpec(int i) {
  v1::JobSpec spec;
  spec.set_sweep_name("bench");
  spec.set_job_key(absl::StrCat("bench-key-", i));
  spec.set_quant_key(absl::StrCat("bench-q-", i / 4));
  spec.mutable_model()->set_alias("tiny");
  spec.mutable_model()->set_path("/models/tiny");
  spec.mutable_method()->set_name("gptq");
  (*spec.mutable_method()->mutable_params())["bits"] = absl::StrCat(2 + i % 3);
  (*spec.mutable_method()->mutable_params())["group_size"] = absl::StrCat(16 << (i % 4));
  spec.mutable_task()->set_name("ppl");
  (*spec.mutable_task()->mutable_params())["dataset"] = "wikitext2";
  spec.mutable_resources()->set_device("any");
  return spec;
}

int Run() {
  const std::string path = absl::GetFlag(FLAGS_db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove(absl::StrCat(path, suffix).c_str());
  auto store = Store::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  RealClock clock;
  auto scheduler = Scheduler::Create(store->get(), &clock, SchedulerOptions());
  if (!scheduler.ok()) return 1;
  Scheduler& s = **scheduler;

  SweepSubmission submission;
  submission.name = "bench";
  for (int i = 0; i < absl::GetFlag(FLAGS_jobs); ++i) submission.jobs.push_back(BenchSpec(i));
  absl::Time start = absl::Now();
  auto submitted = s.Submit(submission);
  const double submit_s = absl::ToDoubleSeconds(absl::Now() - start);
  if (!submitted.ok()) return 1;
  std::printf("submit: %d jobs in %.2f s (%.0f jobs/s)\n", absl::GetFlag(FLAGS_jobs), submit_s,
              absl::GetFlag(FLAGS_jobs) / submit_s);

  const int workers = absl::GetFlag(FLAGS_workers);
  std::vector<std::string> ids;
  for (int w = 0; w < workers; ++w) {
    v1::RegisterRequest request;
    request.set_host(absl::StrCat("bench", w));
    request.add_devices("cpu");
    request.set_protocol_version(kProtocolVersion);
    ids.push_back(s.Register(request)->worker_id());
  }
  std::atomic<int64_t> round_trips{0}, errors{0};
  start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      v1::LeaseRequest lease_request;
      lease_request.set_worker_id(ids[w]);
      v1::ReportRequest report;
      report.set_worker_id(ids[w]);
      report.set_outcome(v1::REPORT_SUCCEEDED);
      auto* metric = report.mutable_result()->add_metrics();
      metric->set_name("ppl");
      metric->set_value(12.5);
      (*report.mutable_result()->mutable_provenance())["host"] = "bench";
      while (true) {
        auto lease = s.Lease(lease_request);
        if (!lease.ok()) { ++errors; return; }
        if (!lease->has_value()) return;
        report.set_lease_id((*lease)->lease_id());
        report.set_job_id((*lease)->job_id());
        report.set_attempt((*lease)->attempt());
        auto status = s.Report(report);
        if (!status.ok() || *status != v1::RECORDED) ++errors;
        ++round_trips;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double run_s = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("lease+report: %lld round trips with %d workers in %.2f s (%.0f /s), errors=%lld\n",
              static_cast<long long>(round_trips.load()), workers, run_s,
              round_trips.load() / run_s, static_cast<long long>(errors.load()));
  const Store::WriteStats stats = (*store)->write_stats();
  std::printf("store: %lld writes in %lld commits (%.1f per commit)\n",
              static_cast<long long>(stats.writes), static_cast<long long>(stats.commits),
              stats.commits > 0 ? double(stats.writes) / stats.commits : 0.0);
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Scheduler throughput on SQLite with in-process fake workers.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_minloglevel = 1;  // one INFO line per report would measure the terminal
  FLAGS_logtostderr = true;
  return llmq::Run();
}
