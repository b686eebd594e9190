// llmq-coord as a user runs it: the real binary in a subprocess, against an in-process
// coordinator or its own embedded one, with llmq-fake-worker processes as workers.
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "grid/values.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

std::string BuildDir() {
  const char* dir = std::getenv("LLMQ_BUILD_DIR");
  return dir != nullptr ? dir : "build";
}

std::string Coord() { return JoinPath(BuildDir(), "coordinator/llmq-coord"); }
std::string FakeWorker() { return JoinPath(BuildDir(), "coordinator/llmq-fake-worker"); }

struct CommandRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs `args` (a shell command line) and captures its output.
// A file name private to the running test (ctest runs tests in parallel, in one /tmp).
std::string TestFile(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return JoinPath(::testing::TempDir(), absl::StrCat("llmq_", info->name(), "_", name));
}

CommandRun Shell(const std::string& args) {
  const std::string out = TestFile("out.txt");
  const std::string err = TestFile("err.txt");
  CommandRun run;
  const int status = std::system(absl::StrCat(args, " >", out, " 2>", err).c_str());
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadFile(out).value_or("");
  run.err = ReadFile(err).value_or("");
  return run;
}

std::string WriteGrid(const std::string& name, const std::string& body) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name, ".yaml");
  EXPECT_TRUE(WriteFileAtomically(path, body).ok());
  return path;
}

std::string DemoGrid(const std::string& name) {
  return WriteGrid(name, absl::StrCat("name: ", name, "\nmodels:\n  - name: tiny\n    path: ",
                                      MakeAbsolutePath("assets/models/stories260K"),
                                      "\nmethods:\n  - none\n  - name: rtn\n    bits: [4, 3]\n"
                                      "tasks:\n  - name: ppl\n    limit: 2\n"));
}

TEST(CoordCliTest, HelpShowsAnExampleForEveryCommand) {
  for (const char* command : {"serve", "submit", "status", "jobs", "workers", "cancel", "retry",
                              "results", "export"}) {
    CommandRun run = Shell(absl::StrCat(Coord(), " ", command, " --help"));
    EXPECT_EQ(run.exit_code, 0) << command;
    EXPECT_TRUE(absl::StrContains(run.out, "example:")) << command;
    EXPECT_TRUE(absl::StrContains(run.out, "llmq-coord ")) << command;
  }
}

TEST(CoordCliTest, LocalSubmitRunsTheSweepAndPrintsTheTable) {
  const std::string db = FreshDbPath("local");
  CommandRun run = Shell(absl::StrCat(Coord(), " submit --local --workers=2 --worker-binary=",
                               FakeWorker(), " --db=", db, " ", DemoGrid("local-demo")));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // ppl = 10 + bits from the fake worker: none 10, rtn 4-bit 14, rtn 3-bit 13 (the lowest
  // quantized ppl, in bold).
  EXPECT_TRUE(absl::StrContains(run.out, "| model | method | bits |    ppl |")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "| tiny  | rtn    |    4 |     14 |")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "| tiny  | rtn    |    3 | **13** |")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "| tiny  | none   |    - |     10 |")) << run.out;
  EXPECT_TRUE(FileExists(db));
  // Submitting again to the same database redoes nothing.
  CommandRun again = Shell(absl::StrCat(Coord(), " submit --local --worker_binary=", FakeWorker(),
                                 " --db=", db, " ", DemoGrid("local-demo")));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(absl::StrContains(again.err, "0 new, 3 already done")) << again.err;
}

TEST(CoordCliTest, BadGridExitsTwoWithItsLocationAndWritesNothing) {
  const std::string db = FreshDbPath("bad");
  const std::string grid = WriteGrid("bad-grid", "name: bad\nmodels: 3\ntasks: [ppl]\n");
  CommandRun run = Shell(absl::StrCat(Coord(), " submit --local --db=", db, " ", grid));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(run.err, "bad-grid.yaml:2:")) << run.err;
  EXPECT_FALSE(FileExists(db));
}

TEST(CoordCliTest, GridAboveMaxJobsExitsTwoWithTheCountBeforeExpandingIt) {
  // 7 x 1000 x 1000 = 7,000,000 jobs: expanding them took minutes and 17.8 GB; the refusal
  // comes from the axes' sizes alone.
  auto list = [](int from, int to) {
    std::vector<int> values;
    for (int i = from; i <= to; ++i) values.push_back(i);
    return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
  };
  const std::string grid = WriteGrid(
      "seven-million",
      absl::StrCat("name: seven-million\nmodels:\n  - name: tiny\n    path: ",
                   MakeAbsolutePath("assets/models/stories260K"),
                   "\nmethods:\n  - name: rtn\n    bits: ", list(2, 8), "\n    group_size: ",
                   list(1, 1000), "\ntasks:\n  - name: ppl\n    limit: ", list(1, 1000), "\n"));
  const absl::Time start = absl::Now();
  CommandRun run = Shell(absl::StrCat(Coord(), " submit --dry_run --local ", grid));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "7000000 jobs")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "more than --max_jobs=1000000")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "seven-million.yaml:8:5: methods: rtn: group_size: "
                                         "1000 values"))
      << run.err;
  // Raised, the limit lets a grid through (a small one here: the test stays quick).
  CommandRun small = Shell(absl::StrCat(Coord(), " submit --dry_run --local --max_jobs=3 ",
                                        DemoGrid("max-jobs-demo")));
  EXPECT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(absl::StrContains(small.err, "3 jobs (dry run")) << small.err;
  CommandRun lowered = Shell(absl::StrCat(Coord(), " submit --dry_run --local --max_jobs=2 ",
                                          DemoGrid("max-jobs-demo")));
  EXPECT_EQ(lowered.exit_code, 2) << lowered.err;
  EXPECT_TRUE(absl::StrContains(lowered.err, "3 jobs (the cross product")) << lowered.err;
}

TEST(CoordCliTest, RemoteSweepWithTokenStatusResultsAndExport) {
  const std::string token_file = TestFile("token");
  ASSERT_TRUE(WriteFileAtomically(token_file, "cli-token\n").ok());
  ServerOptions options;
  options.db_path = FreshDbPath("remote");
  options.listen = "127.0.0.1:0";
  options.token = "cli-token";
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string connect = absl::StrCat(" --coordinator=", (*server)->address(),
                                           " --token-file=", token_file);

  CommandRun refused = Shell(absl::StrCat(Coord(), " status --coordinator=", (*server)->address()));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(refused.err, "UNAUTHENTICATED") ||
              absl::StrContains(refused.err, "token")) << refused.err;

  const std::string worker_log = TestFile("fake_worker.log");
  const std::string worker = absl::StrCat(FakeWorker(), " --coordinator=", (*server)->address(),
                                          " --token_file=", token_file, " --fail_method=none");
  CommandRun submitted = Shell(absl::StrCat("(", worker, " >", worker_log, " 2>&1 & echo $! >",
                                     worker_log, ".pid); ", Coord(), " submit --wait", connect,
                                     " ", DemoGrid("remote-demo")));
  // Stop the worker, and wait until it is gone, so that retried jobs stay queued.
  Shell(absl::StrCat("pid=$(cat ", worker_log, ".pid); kill $pid; "
                     "while kill -0 $pid 2>/dev/null; do sleep 0.1; done"));
  EXPECT_EQ(submitted.exit_code, 1) << submitted.err;  // the `none` job failed
  EXPECT_EQ(submitted.out, "1\n");
  EXPECT_TRUE(absl::StrContains(submitted.err, "2 succeeded, 1 failed")) << submitted.err;
  EXPECT_TRUE(absl::StrContains(submitted.err, "DETERMINISTIC: fake failure")) << submitted.err;

  CommandRun status = Shell(absl::StrCat(Coord(), " status", connect));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "remote-demo")) << status.out;

  CommandRun results =
      Shell(absl::StrCat(Coord(), " results --sweep 1 --format csv --rows=method,bits", connect));
  EXPECT_EQ(results.exit_code, 0) << results.err;
  EXPECT_EQ(results.out, "method,bits,ppl\r\nrtn,4,14\r\nrtn,3,13\r\n");
  const std::string plot = TestFile("plot.svg");
  CommandRun latex = Shell(absl::StrCat(Coord(), " results 1 --format=latex --plot=", plot,
                                        " --x=bits", connect));
  EXPECT_EQ(latex.exit_code, 0) << latex.err;
  EXPECT_TRUE(absl::StrContains(latex.out, "\\toprule")) << latex.out;
  EXPECT_TRUE(absl::StrContains(latex.out, "tiny & rtn & 3 & \\textbf{13} \\\\")) << latex.out;
  EXPECT_TRUE(absl::StartsWith(ReadFile(plot).value_or(""), "<?xml")) << latex.err;

  CommandRun exported = Shell(absl::StrCat(Coord(), " export 1", connect));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "\"coordinator_version\"")) << exported.out;

  CommandRun retried = Shell(absl::StrCat(Coord(), " retry 1", connect));
  EXPECT_TRUE(absl::StrContains(retried.out, "1 jobs requeued")) << retried.out;
  CommandRun cancelled = Shell(absl::StrCat(Coord(), " cancel 1", connect));
  EXPECT_TRUE(absl::StrContains(cancelled.out, "1 jobs cancelled")) << cancelled.out;
  CommandRun failed = Shell(absl::StrCat(Coord(), " jobs --state=CANCELLED", connect));
  EXPECT_TRUE(absl::StrContains(failed.out, "CANCELLED")) << failed.out;
}

}  // namespace
}  // namespace llmq
