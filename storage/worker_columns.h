// The workers-table columns of a worker's Slurm job (slurm_job_id, slurm_array_job_id,
// slurm_array_task_id, in that order) and their reader. Internal to storage/.
#ifndef LLMQ_STORAGE_WORKER_COLUMNS_H_
#define LLMQ_STORAGE_WORKER_COLUMNS_H_

#include <cstdint>
#include <optional>

#include "storage/records.h"
#include "storage/sqlite.h"

namespace llmq {

// Reads the three Slurm columns starting at column `first`; nullopt when the worker
// registered outside Slurm (slurm_job_id NULL).
inline std::optional<SlurmJobRecord> SlurmJobColumns(const sqlite::Statement& row, int first) {
  if (row.IsNull(first)) return std::nullopt;
  SlurmJobRecord slurm;
  slurm.job_id = row.Int(first);
  if (!row.IsNull(first + 1)) {
    slurm.array_job_id = row.Int(first + 1);
    slurm.array_task_id = static_cast<int32_t>(row.Int(first + 2));
  }
  return slurm;
}

}  // namespace llmq

#endif  // LLMQ_STORAGE_WORKER_COLUMNS_H_
