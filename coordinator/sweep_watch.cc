#include "coordinator/sweep_watch.h"

#include <algorithm>
#include <cstdio>

#include "absl/time/clock.h"
#include "coordinator/progress_bar.h"

namespace llmq {

absl::StatusOr<v1::GetSweepResponse> WatchSweep(UserClient& client, int64_t sweep_id,
                                                const WatchOptions& options) {
  ProgressBar bar(stderr);
  bool unreachable = false;
  while (true) {
    if (options.check) {
      absl::Status status = options.check();
      if (!status.ok()) {
        if (options.show_progress) bar.Finish();
        return status;
      }
    }
    const absl::Time asked = absl::Now();
    absl::StatusOr<v1::GetSweepResponse> sweep = client.GetSweep(sweep_id);
    // Counting a very large sweep takes the coordinator a while: poll it less often.
    const absl::Duration pause = std::max(options.poll_interval, 4 * (absl::Now() - asked));
    if (!sweep.ok()) {
      if (!absl::IsUnavailable(sweep.status()) && !absl::IsDeadlineExceeded(sweep.status())) {
        if (options.show_progress) bar.Finish();
        return sweep.status();
      }
      if (!unreachable) {
        if (options.show_progress) bar.Finish();
        std::fprintf(stderr, "coordinator %s not answering; still waiting (Ctrl-C to stop)\n",
                     client.target().c_str());
        unreachable = true;
      }
      absl::SleepFor(std::max(pause, options.poll_interval * 4));
      continue;
    }
    unreachable = false;
    if (options.show_progress) bar.Update(*sweep);
    if (CountsOf(sweep->summary()).finished()) {
      if (options.show_progress) bar.Finish();
      return sweep;
    }
    absl::SleepFor(pause);
  }
}

}  // namespace llmq
