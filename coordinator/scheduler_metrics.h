// What the scheduler counts as it runs, for `/metrics` (coordinator/metrics_page.h). The
// counters start at zero with the process, as Prometheus counters may; what the database
// knows (jobs by state, workers) is read from it at scrape time instead.
#ifndef LLMQ_COORDINATOR_SCHEDULER_METRICS_H_
#define LLMQ_COORDINATOR_SCHEDULER_METRICS_H_

#include <atomic>
#include <cstdint>

#include "common/histogram.h"

namespace llmq {

struct SchedulerMetrics {
  std::atomic<int64_t> leases_granted{0};
  std::atomic<int64_t> leases_expired{0};  // ended without a report in time
  std::atomic<int64_t> retries{0};         // leases granted for a job's second or later attempt
  // From the moment a job became eligible (submitted, or requeued after its backoff) to
  // its lease.
  Histogram queue_wait_seconds{{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400}};
  // A succeeded attempt, from its lease to its recorded result.
  Histogram job_duration_seconds{{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600}};
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SCHEDULER_METRICS_H_
