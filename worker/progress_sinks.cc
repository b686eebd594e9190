#include "worker/progress_sinks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "worker/child_protocol.h"

namespace llmq {
namespace {

// Whether an update is worth passing on now; updates `last_*` when it is.
bool ShouldEmit(const std::string& stage, int64_t step, int64_t total,
                absl::Duration min_interval, std::string* last_stage, absl::Time* last_write) {
  const absl::Time now = absl::Now();
  if (stage == *last_stage && step != total && now - *last_write < min_interval) {
    return false;
  }
  *last_stage = stage;
  *last_write = now;
  return true;
}

}  // namespace

PipeProgressSink::PipeProgressSink(int fd, absl::Duration min_interval)
    : fd_(fd), min_interval_(min_interval) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

void PipeProgressSink::Report(const std::string& stage, int64_t step, int64_t total,
                              const std::string& message) {
  absl::MutexLock lock(&mu_);
  if (!ShouldEmit(stage, step, total, min_interval_, &last_stage_, &last_write_)) return;
  v1::Progress progress;
  progress.set_stage(stage);
  progress.set_step(step);
  progress.set_total(total);
  progress.set_message(message);
  const std::string record = EncodeProgressRecord(progress);
  // Under PIPE_BUF bytes, so the write is all or nothing.
  ssize_t ignored = ::write(fd_, record.data(), record.size());
  (void)ignored;
}

TerminalProgressSink::TerminalProgressSink(absl::Duration min_interval)
    : min_interval_(min_interval) {}

void TerminalProgressSink::Report(const std::string& stage, int64_t step, int64_t total,
                                  const std::string& message) {
  absl::MutexLock lock(&mu_);
  if (!ShouldEmit(stage, step, total, min_interval_, &last_stage_, &last_write_)) return;
  if (total > 0) {
    std::fprintf(stderr, "[%s] %lld/%lld %s\n", stage.c_str(), static_cast<long long>(step),
                 static_cast<long long>(total), message.c_str());
  } else if (!message.empty()) {
    std::fprintf(stderr, "[%s] %s\n", stage.c_str(), message.c_str());
  } else {
    std::fprintf(stderr, "[%s]\n", stage.c_str());
  }
}

}  // namespace llmq
