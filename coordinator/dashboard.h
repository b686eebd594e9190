// The coordinator's pages for people and Prometheus (`llmq-coord serve --http`), read-only:
//   /           sweeps with progress bars and ETA, workers with their current job and
//               stage, failed jobs with their errors; refreshes itself every 5 s
//   /sweep/ID   one sweep: its progress, running jobs, results table (the table
//               `llmq-coord results ID` prints, as HTML) and failed jobs
//   /metrics    Prometheus text (coordinator/metrics_page.h)
// Every page is one read snapshot through the same store queries the user service
// answers from (coordinator/sweep_reads.h); everything shown is HTML-escaped.
#ifndef LLMQ_COORDINATOR_DASHBOARD_H_
#define LLMQ_COORDINATOR_DASHBOARD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/http_server.h"
#include "coordinator/scheduler_metrics.h"
#include "storage/store.h"

namespace llmq {

class Dashboard {
 public:
  // Borrows both; they must outlive the dashboard.
  Dashboard(Store* store, const SchedulerMetrics* metrics) : store_(store), metrics_(metrics) {}

  HttpResponse Handle(const HttpRequest& request);

  absl::StatusOr<std::string> RenderOverview(absl::Time now);
  // NotFound for a sweep that does not exist.
  absl::StatusOr<std::string> RenderSweep(int64_t sweep_id, absl::Time now);

 private:
  Store* const store_;
  const SchedulerMetrics* const metrics_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_DASHBOARD_H_
