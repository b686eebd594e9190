// The live view of a sweep for people: one line on stderr, redrawn in place on a terminal
//   [########------------]  12/40 done  2 failed  3 running  ETA 4m10s  | #17 quantize 3/16 ...
// and, when stderr is not a terminal, the same line printed only when the counts change
// (at most every few seconds), so that logs stay short.
#ifndef LLMQ_COORDINATOR_PROGRESS_BAR_H_
#define LLMQ_COORDINATOR_PROGRESS_BAR_H_

#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "proto/llmq.pb.h"

namespace llmq {

// Counts from a sweep summary.
struct SweepCounts {
  int64_t total = 0, succeeded = 0, failed = 0, cancelled = 0, running = 0, pending = 0;
  bool finished() const { return pending + running == 0; }
};
SweepCounts CountsOf(const v1::SweepSummary& summary);

// The line, at most `width` columns.
std::string RenderProgressLine(const v1::GetSweepResponse& sweep, int width);

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out);
  void Update(const v1::GetSweepResponse& sweep);
  // Ends the line (a terminal's cursor moves to the next line).
  void Finish();

 private:
  std::FILE* const out_;
  const bool terminal_;
  std::string last_counts_;
  absl::Time last_print_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_PROGRESS_BAR_H_
