// The worker's state on local disk, which outlives the daemon process:
//
//   <dir>/.lock                   held while a daemon uses the spool (one daemon per dir)
//   <dir>/worker_id               the id the coordinator gave us; re-registration reuses it
//   <dir>/jobs/<name>.ticket.pb   ReportRequest naming the running job's lease (no outcome)
//   <dir>/jobs/<name>.spec.pb     its JobSpec, read by the job process
//   <dir>/jobs/<name>.result.pb   the JobResult the job process wrote
//   <dir>/reports/<name>.pb       finished reports the coordinator has not acknowledged
//
// Reports are written durably (fsync, then rename) before they are sent and deleted only
// once the coordinator answers, so a result survives a coordinator outage and a daemon
// restart. A ticket without a report means a daemon stopped while that job ran.
// Single-threaded: the daemon's job loop owns it.
#ifndef LLMQ_WORKER_SPOOL_H_
#define LLMQ_WORKER_SPOOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/llmq.pb.h"
#include "worker/file_lock.h"

namespace llmq {

class WorkerSpool {
 public:
  // Opens (creating) `dir` and locks it; kFailedPrecondition if another daemon holds it.
  static absl::StatusOr<std::unique_ptr<WorkerSpool>> Open(const std::string& dir);

  // "job12-a1": the file name stem of one attempt of one job.
  static std::string JobName(int64_t job_id, int32_t attempt);

  std::string SpecPath(absl::string_view name) const;
  std::string ResultPath(absl::string_view name) const;

  // Records that the job named in `ticket` starts: writes its ticket and spec.
  absl::Status BeginJob(absl::string_view name, const v1::ReportRequest& ticket,
                        const v1::JobSpec& spec);
  // Removes the job's ticket, spec and result files.
  void EndJob(absl::string_view name);

  // Jobs a previous daemon left running: their tickets, and results if they finished.
  struct InterruptedJob {
    std::string name;
    v1::ReportRequest ticket;
    absl::optional<v1::JobResult> result;
  };
  std::vector<InterruptedJob> InterruptedJobs() const;

  // Stores `report` durably under `name`, replacing an older one.
  absl::Status PutReport(absl::string_view name, const v1::ReportRequest& report);
  struct PendingReport {
    std::string name;
    v1::ReportRequest report;
  };
  // Reports waiting for an answer, oldest job first. Unreadable files are renamed to
  // *.corrupt and skipped.
  std::vector<PendingReport> PendingReports() const;
  absl::Status RemoveReport(absl::string_view name);

  // The saved worker id; empty if none.
  std::string LoadWorkerId() const;
  absl::Status SaveWorkerId(absl::string_view worker_id);

  const std::string& dir() const { return dir_; }
  std::string reports_dir() const;

 private:
  WorkerSpool(std::string dir, std::unique_ptr<FileLock> lock)
      : dir_(std::move(dir)), lock_(std::move(lock)) {}
  std::string JobPath(absl::string_view name, absl::string_view suffix) const;

  const std::string dir_;
  std::unique_ptr<FileLock> lock_;
};

// Writes `contents` to `path` through a temporary file that is fsynced before the rename,
// and fsyncs the directory after it: the file survives a power loss whole or not at all.
absl::Status WriteFileDurably(const std::string& path, absl::string_view contents);

}  // namespace llmq

#endif  // LLMQ_WORKER_SPOOL_H_
