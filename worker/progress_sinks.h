// Where `run-job` sends the pipeline's progress: to the daemon as records on a pipe
// (child_protocol.h), or to a person's terminal. Both throttle, since the pipeline calls
// them from hot loops, and both let the latest state through on every stage change and
// at the last step. Thread-safe.
#ifndef LLMQ_WORKER_PROGRESS_SINKS_H_
#define LLMQ_WORKER_PROGRESS_SINKS_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/pipeline.h"

namespace llmq {

// Writes progress records to `fd` without ever blocking the job: a record that does not
// fit in the pipe is dropped (the next one carries the newer state anyway).
class PipeProgressSink : public ProgressSink {
 public:
  explicit PipeProgressSink(int fd, absl::Duration min_interval = absl::Milliseconds(200));
  void Report(const std::string& stage, int64_t step, int64_t total,
              const std::string& message) override;

 private:
  const int fd_;
  const absl::Duration min_interval_;
  absl::Mutex mu_;
  std::string last_stage_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// One line per update on stderr: "[quantize] 3/16 layer 3".
class TerminalProgressSink : public ProgressSink {
 public:
  explicit TerminalProgressSink(absl::Duration min_interval = absl::Seconds(1));
  void Report(const std::string& stage, int64_t step, int64_t total,
              const std::string& message) override;

 private:
  const absl::Duration min_interval_;
  absl::Mutex mu_;
  std::string last_stage_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace llmq

#endif  // LLMQ_WORKER_PROGRESS_SINKS_H_
