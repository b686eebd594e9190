// The jobs-table columns that make a JobRecord, and the reader that pairs with them.
// Internal to storage/.
#ifndef LLMQ_STORAGE_JOB_COLUMNS_H_
#define LLMQ_STORAGE_JOB_COLUMNS_H_

#include "storage/codec.h"
#include "storage/records.h"
#include "storage/sqlite.h"

namespace llmq {

inline constexpr char kJobRecordColumns[] =
    "id, sweep_id, job_key, quant_key, state, priority, attempts, failures, max_attempts, "
    "worker_deaths, lease_id, lease_worker, lease_expires_ms, next_eligible_ms, error, "
    "error_class";

// Reads the columns of kJobRecordColumns, starting at column `first`.
inline JobRecord ReadJobRecord(const sqlite::Statement& row, int first = 0) {
  JobRecord job;
  int c = first;
  job.id = row.Int(c++);
  job.sweep_id = row.Int(c++);
  job.job_key = row.Text(c++);
  job.quant_key = row.Text(c++);
  job.state = ParseJobState(row.Text(c++));
  job.priority = static_cast<int>(row.Int(c++));
  job.attempts = static_cast<int>(row.Int(c++));
  job.failures = static_cast<int>(row.Int(c++));
  job.max_attempts = static_cast<int>(row.Int(c++));
  job.worker_deaths = static_cast<int>(row.Int(c++));
  job.lease_id = row.Text(c++);
  job.lease_worker = row.Text(c++);
  job.lease_expires = row.IsNull(c) ? absl::InfinitePast() : FromMillis(row.Int(c));
  ++c;
  job.next_eligible = FromMillis(row.Int(c++));
  job.error = row.Text(c++);
  job.error_class = ParseErrorClass(row.Text(c++));
  return job;
}

}  // namespace llmq

#endif  // LLMQ_STORAGE_JOB_COLUMNS_H_
