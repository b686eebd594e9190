#include "coordinator/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/sweep_eta.h"

namespace llmq {
namespace {

int64_t Count(const v1::SweepSummary& summary, const char* state) {
  auto it = summary.jobs_by_state().find(state);
  return it == summary.jobs_by_state().end() ? 0 : it->second;
}

int TerminalWidth(std::FILE* out) {
  struct winsize size;
  if (ioctl(fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 100;
}

}  // namespace

SweepCounts CountsOf(const v1::SweepSummary& summary) {
  SweepCounts c;
  c.total = summary.jobs_total();
  c.succeeded = Count(summary, "SUCCEEDED");
  c.failed = Count(summary, "FAILED");
  c.cancelled = Count(summary, "CANCELLED");
  c.running = Count(summary, "LEASED") + Count(summary, "RUNNING");
  c.pending = Count(summary, "PENDING");
  return c;
}

std::string RenderProgressLine(const v1::GetSweepResponse& sweep, int width) {
  const SweepCounts c = CountsOf(sweep.summary());
  constexpr int kBar = 20;
  const int64_t ended = c.succeeded + c.failed + c.cancelled;
  const int filled = c.total > 0 ? static_cast<int>(kBar * ended / c.total) : 0;
  std::string line = absl::StrCat("[", std::string(filled, '#'), std::string(kBar - filled, '-'),
                                  "] ", ended, "/", c.total, " done");
  if (c.failed > 0) absl::StrAppend(&line, "  ", c.failed, " failed");
  if (c.cancelled > 0) absl::StrAppend(&line, "  ", c.cancelled, " cancelled");
  absl::StrAppend(&line, "  ", c.running, " running");
  if (sweep.has_eta() && !c.finished()) absl::StrAppend(&line, "  ETA ", FormatEta(sweep.eta()));
  if (sweep.running_size() > 0) line += "  |";
  for (const v1::JobInfo& job : sweep.running()) {
    std::string stage = job.progress().stage().empty() ? "starting" : job.progress().stage();
    if (job.progress().total() > 0) {
      absl::StrAppend(&stage, " ", job.progress().step(), "/", job.progress().total());
    }
    const std::string item = absl::StrCat("  #", job.job_id(), " ", stage);
    if (static_cast<int>(line.size() + item.size()) > width) {
      if (static_cast<int>(line.size()) + 5 <= width) line += "  ...";
      break;
    }
    line += item;
  }
  if (static_cast<int>(line.size()) > width) line.resize(std::max(0, width));
  return line;
}

ProgressBar::ProgressBar(std::FILE* out) : out_(out), terminal_(isatty(fileno(out)) == 1) {}

void ProgressBar::Update(const v1::GetSweepResponse& sweep) {
  if (terminal_) {
    const std::string line = RenderProgressLine(sweep, TerminalWidth(out_) - 1);
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());  // redraw, clear the rest of the row
    std::fflush(out_);
    drawn_ = true;
    return;
  }
  const SweepCounts c = CountsOf(sweep.summary());
  const std::string counts = absl::StrCat(c.succeeded, "/", c.failed, "/", c.cancelled, "/",
                                          c.running, "/", c.pending);
  const absl::Time now = absl::Now();
  if (counts == last_counts_ || (now - last_print_ < absl::Seconds(5) && !c.finished())) return;
  last_counts_ = counts;
  last_print_ = now;
  std::fprintf(out_, "%s\n", RenderProgressLine(sweep, 160).c_str());
  std::fflush(out_);
}

void ProgressBar::Finish() {
  if (terminal_ && drawn_) std::fprintf(out_, "\n");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace llmq
