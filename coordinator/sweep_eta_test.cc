// The ETA arithmetic against hand-computed schedules (coordinator/sweep_eta.h states it).
#include "coordinator/sweep_eta.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

EtaJob Pending(double seconds) { return EtaJob{seconds, false, 0}; }
EtaJob Running(double seconds, double elapsed) { return EtaJob{seconds, true, elapsed}; }

TEST(SweepEtaTest, PendingJobsGoLongestFirstToTheLeastLoadedWorker) {
  // Two idle workers, jobs 7, 5, 4, 3: 7 -> A, 5 -> B, 4 -> B (9), 3 -> A (10). Longest: 10.
  EXPECT_DOUBLE_EQ(RemainingSeconds({Pending(3), Pending(7), Pending(4), Pending(5)}, 2), 10);
  // One worker runs them one after another: 19.
  EXPECT_DOUBLE_EQ(RemainingSeconds({Pending(3), Pending(7), Pending(4), Pending(5)}, 1), 19);
}

TEST(SweepEtaTest, RunningJobsKeepTheirWorkerBusyForWhatIsLeft) {
  // Worker A runs a 30 s job started 25 s ago (5 left); B is idle. Pending 10, 10, 10:
  // 10 -> B (10), 10 -> A (15), 10 -> B (20).
  EXPECT_DOUBLE_EQ(
      RemainingSeconds({Running(30, 25), Pending(10), Pending(10), Pending(10)}, 2), 20);
}

TEST(SweepEtaTest, AnOverrunJobCountsNothingLeft) {
  // Predicted 10 s, running for 40 s: it may end any moment; the pending 6 s job goes to
  // the idle worker.
  EXPECT_DOUBLE_EQ(RemainingSeconds({Running(10, 40), Pending(6)}, 2), 6);
  EXPECT_DOUBLE_EQ(RemainingSeconds({Running(10, 40)}, 1), 0);
}

TEST(SweepEtaTest, MoreRunningJobsThanActiveWorkersEachHoldOne) {
  // A worker marked gone may still run its job: three running jobs on "one" worker are
  // still three machines busy (4, 8 and 2 s left), and the pending 3 s job waits for the
  // first to free up (2 + 3 = 5 < 8).
  EXPECT_DOUBLE_EQ(
      RemainingSeconds({Running(10, 6), Running(10, 2), Running(10, 8), Pending(3)}, 1), 8);
}

TEST(SweepEtaTest, JobsAreTimedFromFinishedJobsOfTheSameKind) {
  // Recorded: rtn bits=4 on ppl took 10 s and 20 s (mean 15); none on ppl took 4 s.
  std::vector<RecordedCost> recorded;
  recorded.push_back({"m", "rtn", R"({"bits":4})", "ppl", "{}", 10, 0, 0});
  recorded.push_back({"m", "rtn", R"({"bits":4})", "ppl", "{}", 20, 0, 0});
  recorded.push_back({"m", "none", "{}", "ppl", "{}", 4, 0, 0});
  const CostHistory history(recorded);
  const absl::Time now = absl::FromUnixSeconds(1000);

  std::vector<UnfinishedJobs> unfinished;
  UnfinishedJobs rtn4{"m", "rtn", R"({"bits":4})", "ppl", "{}", false, 2, 99.0, {}};
  UnfinishedJobs rtn3{"m", "rtn", R"({"bits":3})", "ppl", "{}", false, 1, 99.0, {}};
  UnfinishedJobs gptq{"m", "gptq", "{}", "ppl", "{}", false, 1, 50.0, {}};
  UnfinishedJobs none{"m", "none", "{}", "ppl", "{}", true, 1, std::nullopt,
                      absl::FromUnixSeconds(999)};
  unfinished = {rtn4, rtn3, gptq, none};
  const v1::SweepEta eta = EstimateEta(unfinished, history, 2, now);
  // rtn bits=4: same cell, 15 s each (x2). rtn bits=3: no such cell, same model, method
  // and task: 15 s. gptq: nothing alike finished, its submission prediction 50 s.
  // none: running for 1 s of its 4 s, 3 left.
  // Workers: A busy 3, B free. Pending 50, 15, 15, 15: 50 -> B (50), 15 -> A (18),
  // 15 -> A (33), 15 -> A (48). Longest: 50.
  EXPECT_DOUBLE_EQ(eta.remaining_seconds(), 50);
  EXPECT_EQ(eta.jobs(), 5);
  EXPECT_EQ(eta.jobs_recorded(), 4);
  EXPECT_EQ(eta.workers(), 2);
}

TEST(SweepEtaTest, NoActiveWorkerMeansNoEstimate) {
  UnfinishedJobs pending{"m", "none", "{}", "ppl", "{}", false, 3, 10.0, {}};
  const v1::SweepEta eta = EstimateEta({pending}, CostHistory({}), 0, absl::Now());
  EXPECT_EQ(eta.workers(), 0);
  EXPECT_EQ(eta.jobs(), 3);
  EXPECT_EQ(FormatEta(eta), "no active workers");
}

TEST(SweepEtaTest, FormatsForPeople) {
  v1::SweepEta eta;
  eta.set_workers(1);
  eta.set_remaining_seconds(0.4);
  EXPECT_EQ(FormatEta(eta), "<1s");
  eta.set_remaining_seconds(42);
  EXPECT_EQ(FormatEta(eta), "42s");
  eta.set_remaining_seconds(250);
  EXPECT_EQ(FormatEta(eta), "4m10s");
  eta.set_remaining_seconds(3 * 3600 + 2 * 60 + 5);
  EXPECT_EQ(FormatEta(eta), "3h02m");
}

}  // namespace
}  // namespace llmq
