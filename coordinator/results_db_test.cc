// The results table against the database: a sweep run through the scheduler into SQLite
// with known metrics, rendered as `llmq-coord results` renders it, parsed back, and every
// cell compared with the metrics table as SQL reads it.
#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "report/results_table.h"
#include "report/results_test_util.h"
#include "coordinator/scheduler_test_fixture.h"
#include "coordinator/store_codec.h"
#include "storage/sqlite.h"

namespace llmq {
namespace {

// (method, bits, group_size, task, metric) -> value, as SQL reads the store.
using StoredKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;

struct ParsedCell {
  double value = 0;
  std::string text;  // the number as printed
  bool bold = false;
  std::string delta;  // inside the parentheses, "" for none
};

// "**4.388** (+6.8%)" -> 4.388, bold, "+6.8%".
ParsedCell ParseCell(absl::string_view cell) {
  ParsedCell parsed;
  if (absl::ConsumePrefix(&cell, "**")) {
    parsed.bold = true;
    const size_t end = cell.find("**");
    parsed.text = std::string(cell.substr(0, end));
    cell.remove_prefix(end + 2);
  } else {
    parsed.text = std::string(cell.substr(0, cell.find(' ')));
    cell.remove_prefix(parsed.text.size());
  }
  EXPECT_TRUE(absl::SimpleAtod(parsed.text, &parsed.value)) << parsed.text;
  if (absl::ConsumePrefix(&cell, " (") && absl::ConsumeSuffix(&cell, ")")) {
    parsed.delta = std::string(cell);
  }
  return parsed;
}

// Markdown rows as cells, header first, the alignment row left out.
std::vector<std::vector<std::string>> ParseMarkdown(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "|:") || absl::StartsWith(line, "|-")) continue;
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(line, '|')) {
      cells.push_back(std::string(absl::StripAsciiWhitespace(cell)));
    }
    rows.push_back(std::vector<std::string>(cells.begin() + 1, cells.end() - 1));
  }
  return rows;
}

// The documented rounding: `precision` significant digits, integer digits never cut.
void ExpectRounded(const ParsedCell& cell, double stored, int precision, const std::string& where) {
  const double magnitude = std::abs(stored);
  double bound = 0.5;
  if (magnitude < std::pow(10.0, precision - 1) && stored != std::floor(stored)) {
    bound = 0.5 * std::pow(10.0, std::floor(std::log10(magnitude)) - precision + 1);
  }
  EXPECT_LE(std::abs(cell.value - stored), bound * (1 + 1e-9)) << where << ": " << cell.text;
  int significant = 0;
  bool leading = true;
  for (char c : cell.text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) continue;
    leading &= c == '0';
    significant += !leading;
  }
  if (cell.text.find('.') != std::string::npos) EXPECT_LE(significant, precision) << where;
}

class CoordResultsDbTest : public SchedulerTest {
 protected:
  // A sweep of five method variants x three tasks, every job run to success with metrics
  // drawn at random over each metric's range.
  void RunSweep() {
    struct Variant {
      std::string method, bits, group_size;
    };
    const std::vector<Variant> variants = {
        {"none", "", ""}, {"rtn", "4", "32"}, {"rtn", "3", "32"}, {"rtn", "4", "-1"}, {"gptq", "4", "32"}};
    std::mt19937 random(7);
    auto uniform = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(random);
    };
    std::vector<v1::JobSpec> specs;
    std::map<std::string, std::vector<TestMetric>> metrics_of;
    for (const Variant& v : variants) {
      for (const std::string task : {"ppl", "boolq", "efficiency"}) {
        const std::string key = absl::StrCat(v.method, v.bits, "g", v.group_size, task);
        v1::JobSpec spec = MakeSpec({key});
        spec.mutable_method()->set_name(v.method);
        spec.mutable_method()->clear_params();
        if (!v.bits.empty()) (*spec.mutable_method()->mutable_params())["bits"] = v.bits;
        if (!v.group_size.empty()) (*spec.mutable_method()->mutable_params())["group_size"] = v.group_size;
        spec.mutable_task()->set_name(task);
        specs.push_back(spec);
        std::vector<TestMetric> m = {{"weight_bytes", uniform(3e8, 9e8), "bytes"},
                                     {"bits_per_weight", uniform(2.5, 32), "bits/weight"},
                                     {"parameters", 260032, ""},
                                     {"peak_rss_bytes", uniform(1e9, 5e9), "bytes"}};
        if (task == "ppl") {
          m.push_back({"ppl", uniform(3, 40), ""});
          m.push_back({"nll_per_token", uniform(1, 3), "nats"});
        } else if (task == "boolq") {
          m.push_back({"accuracy", uniform(0.4, 0.9), ""});
          m.push_back({"n", 200, "examples"});
        } else {
          m.push_back({"prefill_ms_16", uniform(0.05, 0.9), "ms"});
          m.push_back({"prefill_ms_64", uniform(1, 300), "ms"});
          m.push_back({"decode_ms_p50", uniform(0.2, 20), "ms"});
          m.push_back({"decode_ms_p95", uniform(0.2, 20), "ms"});
          m.push_back({"throughput_b1", uniform(1000, 20000), "tokens/s"});
        }
        metrics_of[key] = m;
      }
    }
    sweep_ = Submit(specs);
    const std::string worker = Register("node1");
    for (size_t i = 0; i < specs.size(); ++i) {
      std::optional<v1::Lease> lease = Lease(worker);
      ASSERT_TRUE(lease.has_value());
      v1::ReportRequest report = ReportFor(*lease, worker);
      report.mutable_result()->clear_metrics();
      for (const TestMetric& t : metrics_of.at(lease->spec().job_key())) {
        v1::Metric* metric = report.mutable_result()->add_metrics();
        metric->set_name(t.name);
        metric->set_value(t.value);
        metric->set_unit(t.unit);
      }
      ASSERT_EQ(Report(report), v1::RECORDED);
    }
  }

  // As the user service answers `llmq-coord results --sweep`.
  std::vector<v1::ResultRow> QueryResults() {
    std::vector<v1::ResultRow> rows;
    ResultsFilter filter;
    filter.sweep_id = sweep_;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> absl::Status {
                      LLMQ_ASSIGN_OR_RETURN(std::vector<ResultRow> stored,
                                            txn.QueryResults(filter));
                      for (const ResultRow& row : stored) {
                        LLMQ_ASSIGN_OR_RETURN(rows.emplace_back(), ToProto(row));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return rows;
  }

  // Every metric as SQL reads it from the metrics table.
  std::map<StoredKey, double> StoredMetrics() {
    std::map<StoredKey, double> stored;
    auto db = sqlite::Connection::Open(path_, sqlite::Connection::Mode::kReadOnly, absl::Seconds(5));
    EXPECT_TRUE(db.ok()) << db.status();
    auto select = (*db)->Prepare(
        "SELECT j.method, COALESCE(json_extract(j.method_params, '$.bits'), '-'), "
        "COALESCE(json_extract(j.method_params, '$.group_size'), '-'), j.task, m.name, m.value "
        "FROM jobs j JOIN metrics m ON m.job_id = j.id");
    EXPECT_TRUE(select.ok()) << select.status();
    while (*select->Step()) {
      stored[{select->Text(0), select->Text(1), select->Text(2), select->Text(3), select->Text(4)}] =
          select->Double(5);
    }
    return stored;
  }

  int64_t sweep_ = 0;
};

struct ColumnMeaning {
  std::string task, metric;
  double divisor;
  bool lower_is_better;
  bool relative_delta;
};

// What each header of the default table means, written out by hand.
const std::map<std::string, ColumnMeaning>& DefaultColumns() {
  static const auto* columns = new std::map<std::string, ColumnMeaning>{
      {"ppl", {"ppl", "ppl", 1, true, true}},
      {"boolq acc", {"boolq", "accuracy", 1, false, false}},
      {"efficiency prefill 16 (ms)", {"efficiency", "prefill_ms_16", 1, true, true}},
      {"efficiency prefill 64 (ms)", {"efficiency", "prefill_ms_64", 1, true, true}},
      {"efficiency decode p50 (ms)", {"efficiency", "decode_ms_p50", 1, true, true}},
      {"efficiency throughput b1 (tok/s)", {"efficiency", "throughput_b1", 1, false, true}},
      {"efficiency weight (MB)", {"efficiency", "weight_bytes", 1e6, true, true}},
      {"efficiency peak RSS (GB)", {"efficiency", "peak_rss_bytes", 1e9, true, true}},
      {"efficiency bits/weight", {"efficiency", "bits_per_weight", 1, true, false}},
  };
  return *columns;
}

TEST_F(CoordResultsDbTest, MarkdownCellsMatchTheStoredMetrics) {
  ASSERT_NO_FATAL_FAILURE(RunSweep());
  const std::map<StoredKey, double> stored = StoredMetrics();
  ASSERT_EQ(stored.size(), 5u * (6 + 6 + 9));
  for (const int precision : {4, 3, 6}) {
    PivotOptions options;
    options.precision = precision;
    options.delta = true;
    absl::StatusOr<std::string> markdown = RenderResults(QueryResults(), options, "markdown");
    ASSERT_TRUE(markdown.ok()) << markdown.status();
    const auto rows = ParseMarkdown(*markdown);
    ASSERT_EQ(rows.size(), 1u + 5u) << *markdown;
    const std::vector<std::string>& header = rows[0];
    ASSERT_EQ(header.size(), 4u + DefaultColumns().size()) << *markdown;
    EXPECT_EQ(std::vector<std::string>(header.begin(), header.begin() + 4),
              (std::vector<std::string>{"model", "method", "bits", "group_size"}));
    for (size_t c = 4; c < header.size(); ++c) {
      ASSERT_TRUE(DefaultColumns().count(header[c])) << "unexpected column " << header[c];
      const ColumnMeaning& meaning = DefaultColumns().at(header[c]);
      // The best quantized value of the column, from SQL.
      std::optional<double> best;
      for (size_t r = 1; r < rows.size(); ++r) {
        if (rows[r][1] == "none") continue;
        const double v = stored.at({rows[r][1], rows[r][2], rows[r][3], meaning.task, meaning.metric});
        if (!best || (meaning.lower_is_better ? v < *best : v > *best)) best = v;
      }
      const double baseline = stored.at({"none", "-", "-", meaning.task, meaning.metric});
      for (size_t r = 1; r < rows.size(); ++r) {
        const std::string where = absl::StrCat(rows[r][1], " ", rows[r][2], " ", rows[r][3], " / ",
                                               header[c], " at precision ", precision);
        const double value = stored.at({rows[r][1], rows[r][2], rows[r][3], meaning.task, meaning.metric});
        const ParsedCell cell = ParseCell(rows[r][c]);
        ExpectRounded(cell, value / meaning.divisor, precision, where);
        EXPECT_EQ(cell.bold, rows[r][1] != "none" && value == *best) << where;
        if (rows[r][1] == "none") {
          EXPECT_EQ(cell.delta, "") << where;
          continue;
        }
        double delta = 0;
        ASSERT_TRUE(absl::SimpleAtod(absl::StripSuffix(cell.delta, "%"), &delta)) << where;
        if (meaning.relative_delta) {
          EXPECT_NEAR(delta, 100 * (value / baseline - 1), 0.05 + 1e-9) << where;
        } else {
          EXPECT_NEAR(delta, (value - baseline) / meaning.divisor, 0.5 * std::pow(10.0, 2 - precision))
              << where;
        }
      }
    }
  }
}

TEST_F(CoordResultsDbTest, EveryFormatHasTheSameRowsAndColumns) {
  ASSERT_NO_FATAL_FAILURE(RunSweep());
  const std::vector<v1::ResultRow> results = QueryResults();
  absl::StatusOr<std::string> csv = RenderResults(results, PivotOptions(), "csv");
  absl::StatusOr<std::string> json = RenderResults(results, PivotOptions(), "json");
  absl::StatusOr<std::string> latex = RenderResults(results, PivotOptions(), "latex");
  ASSERT_TRUE(csv.ok() && json.ok() && latex.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 6);
  EXPECT_EQ(std::count(csv->begin(), csv->end(), ','), 6 * (4 + 9 - 1));
  EXPECT_NE(json->find("\"efficiency weight (MB)\": "), std::string::npos) << *json;
  EXPECT_NE(latex->find("\\multicolumn{7}{c}{efficiency}"), std::string::npos) << *latex;
  EXPECT_FALSE(RenderResults(results, PivotOptions(), "html").ok());
}

}  // namespace
}  // namespace llmq
