// The coordinator's HTTP face with real processes: after a real sweep on the bundled
// model, /metrics parses as strict Prometheus text and counts what the database holds,
// and the dashboard rendered by a real headless Chromium shows the sweep's results table
// (and leaves a screenshot under the test output directory). The Chromium test skips when
// no `chromium` is installed (scripts/install-deps installs it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "tests/e2e_harness.h"
#include "tests/prometheus_parser.h"

namespace llmq {
namespace e2e {
namespace {

// GET http://127.0.0.1:port/path; the body of a 200 answer, else an error with the answer.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[8192];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, n);
  ::close(fd);
  const size_t body = answer.find("\r\n\r\n");
  if (!absl::StartsWith(answer, "HTTP/1.1 200 ") || body == std::string::npos) {
    return absl::InternalError(absl::StrCat("GET ", path, ": ", answer.substr(0, 500)));
  }
  return answer.substr(body + 4);
}

std::string FindInPath(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  for (const std::string& name : names) {
    for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "", ':', absl::SkipEmpty())) {
      const std::string candidate = JoinPath(std::string(dir), name);
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

// The text of every <td> of each <tr> of the first <table class="results"> in `html`,
// tags removed.
std::vector<std::vector<std::string>> ResultsTableRows(const std::string& html) {
  std::vector<std::vector<std::string>> rows;
  const size_t start = html.find("<table class=\"results\">");
  if (start == std::string::npos) return rows;
  const std::string table = html.substr(start, html.find("</table>", start) - start);
  for (absl::string_view row : absl::StrSplit(table, "<tr>")) {
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(row, "<td")) {
      const size_t open = cell.find('>');
      const size_t close = cell.find("</td>");
      if (open == absl::string_view::npos || close == absl::string_view::npos) continue;
      std::string text;
      bool in_tag = false;
      for (char c : cell.substr(open + 1, close - open - 1)) {
        if (c == '<') in_tag = true;
        if (!in_tag) text.push_back(c);
        if (c == '>') in_tag = false;
      }
      cells.push_back(text);
    }
    if (!cells.empty()) rows.push_back(cells);
  }
  return rows;
}

class E2eDashboardTest : public E2eTest {
 protected:
  // A coordinator with --http on a free loopback port and one worker; returns the port.
  int StartWithDashboard() {
    Process* coordinator = StartCoordinator({"--http=127.0.0.1:0"});
    if (coordinator == nullptr) return 0;
    // "dashboard on http://127.0.0.1:PORT/ and metrics on ..."
    const std::string kDashboard = "dashboard on http://127.0.0.1:";
    int port = 0;
    const absl::Status up = WaitFor(
        [&] {
          const std::string log = coordinator->Stderr();
          const size_t at = log.find(kDashboard);
          if (at == std::string::npos) return false;
          const size_t end = log.find('/', at + kDashboard.size());
          return end != std::string::npos &&
                 absl::SimpleAtoi(log.substr(at + kDashboard.size(), end - at - kDashboard.size()),
                                  &port);
        },
        absl::Seconds(10), "the dashboard's address");
    EXPECT_TRUE(up.ok()) << up << coordinator->Stderr();
    EXPECT_NE(StartWorker("a"), nullptr);
    return port;
  }

  // Submits the unquantized and RTN 4-bit stories260K on a little TinyStories perplexity
  // with `submit --wait`; returns the sweep id once it is done.
  int64_t RunSweep() {
    const std::string grid = WriteFile(
        "dashboard.yaml",
        TinyGrid("dashboard", "  - none\n  - name: rtn\n    bits: 4\n    group_size: 32\n",
                 "  - name: ppl\n    dataset: tinystories\n    context: 128\n    limit: 2\n"));
    const CommandResult submitted = Coord({"submit", grid, "--wait"});
    EXPECT_EQ(submitted.code(), 0) << submitted.err;
    // The progress line shows an ETA while jobs are left (one worker is registered).
    EXPECT_TRUE(absl::StrContains(submitted.err, "ETA ")) << submitted.err;
    int64_t sweep = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(submitted.out), &sweep))
        << submitted.out;
    return sweep;
  }
};

TEST_F(E2eDashboardTest, MetricsParseAsPrometheusTextAndCountWhatTheDatabaseHolds) {
  const int port = StartWithDashboard();
  ASSERT_GT(port, 0);
  const int64_t sweep = RunSweep();
  ASSERT_GT(sweep, 0);
  ExpectEachJobRecordedOnce(sweep, 2);

  absl::StatusOr<std::string> text = HttpGet(port, "/metrics");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<PromExposition> metrics = ParsePrometheusText(*text);
  ASSERT_TRUE(metrics.ok()) << metrics.status() << "\n" << *text;
  const DbReader db = Db();
  for (const char* state : {"PENDING", "LEASED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}) {
    EXPECT_EQ(metrics->Value("llmq_jobs", {{"state", state}}),
              static_cast<double>(
                  db.IntOr(absl::StrCat("SELECT COUNT(*) FROM jobs WHERE state = '", state, "'"))))
        << state << "\n" << *text;
  }
  // This coordinator granted every lease the database records, and timed every success.
  EXPECT_EQ(metrics->Value("llmq_leases_granted_total"),
            static_cast<double>(db.IntOr("SELECT COUNT(*) FROM attempts")));
  EXPECT_EQ(metrics->Value("llmq_job_duration_seconds_count"),
            static_cast<double>(
                db.IntOr("SELECT COUNT(*) FROM attempts WHERE outcome = 'SUCCEEDED'")));
  EXPECT_EQ(metrics->Value("llmq_queue_wait_seconds_count"),
            static_cast<double>(db.IntOr("SELECT COUNT(*) FROM attempts")));
  EXPECT_EQ(metrics->Value("llmq_workers_alive"), 1);
  EXPECT_GT(metrics->Value("llmq_db_commit_seconds_count").value_or(0), 0);
}

TEST_F(E2eDashboardTest, HeadlessChromiumRendersAFinishedSweepsResultsTable) {
  const std::string chromium = FindInPath({"chromium", "chromium-browser", "google-chrome"});
  if (chromium.empty()) GTEST_SKIP() << "no chromium in PATH (scripts/install-deps installs it)";
  const int port = StartWithDashboard();
  ASSERT_GT(port, 0);
  const int64_t sweep = RunSweep();
  ASSERT_GT(sweep, 0);

  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/sweep/", sweep);
  // Root needs --no-sandbox; a profile of its own keeps $HOME out of it.
  const std::vector<std::string> browser = {
      chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--no-first-run", "--hide-scrollbars", absl::StrCat("--user-data-dir=", dir(), "/chromium")};
  std::vector<std::string> dump = browser;
  dump.push_back("--dump-dom");
  dump.push_back(url);
  const CommandResult dom = RunCommand(dump, JoinPath(dir(), "chromium-dom"), absl::Seconds(120));
  ASSERT_EQ(dom.code(), 0) << dom.err;
  const std::vector<std::vector<std::string>> rows = ResultsTableRows(dom.out);
  ASSERT_EQ(rows.size(), 2u) << dom.out;

  // Each recorded perplexity is in the rendered row of its method, to the table's 4
  // significant digits.
  absl::StatusOr<std::vector<std::vector<std::string>>> recorded = Db().Rows(
      "SELECT j.method, m.value FROM jobs j JOIN metrics m ON m.job_id = j.id "
      "WHERE m.name = 'ppl' ORDER BY j.id");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->size(), 2u);
  for (const std::vector<std::string>& job : *recorded) {
    double ppl = 0;
    ASSERT_TRUE(absl::SimpleAtod(job[1], &ppl)) << job[1];
    bool found = false;
    for (const std::vector<std::string>& row : rows) {
      if (std::find(row.begin(), row.end(), job[0]) == row.end()) continue;
      for (const std::string& cell : row) {
        double shown = 0;
        const std::string first(absl::StripAsciiWhitespace(cell.substr(0, cell.find(' '))));
        if (absl::SimpleAtod(first, &shown) && std::fabs(shown - ppl) <= 5e-4 * ppl) found = true;
      }
    }
    EXPECT_TRUE(found) << job[0] << " ppl " << ppl << " not in the rendered table\n" << dom.out;
  }

  const char* out_dir = std::getenv("LLMQ_TEST_OUTPUT_DIR");
  const std::string shots = out_dir != nullptr ? out_dir : JoinPath(BuildDir(), "test-output");
  ASSERT_TRUE(MakeDirectories(shots).ok()) << shots;
  const std::string png = JoinPath(shots, "dashboard-sweep.png");
  std::error_code ignored;
  std::filesystem::remove(png, ignored);
  std::vector<std::string> shot = browser;
  shot.push_back("--window-size=1280,720");
  shot.push_back(absl::StrCat("--screenshot=", png));
  shot.push_back(url);
  const CommandResult screenshot =
      RunCommand(shot, JoinPath(dir(), "chromium-screenshot"), absl::Seconds(120));
  ASSERT_EQ(screenshot.code(), 0) << screenshot.err;
  absl::StatusOr<std::string> image = ReadFile(png);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(absl::StartsWith(*image, "\x89PNG\r\n\x1a\n")) << png;
  EXPECT_GT(image->size(), 5000u) << png;
  std::fprintf(stderr, "[e2e] dashboard screenshot: %s\n", png.c_str());
}

}  // namespace
}  // namespace e2e
}  // namespace llmq
