#include "report/results_plot.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "report/plot_axis.h"
#include "report/results_test_util.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

// Well-formed XML as far as a writer can get it wrong: one root element, every element
// closed in order, attribute values quoted, '<' never in text or values, '&' only as an
// entity.
::testing::AssertionResult WellFormed(const std::string& xml) {
  size_t at = 0;
  if (absl::StartsWith(xml, "<?xml")) at = xml.find("?>") + 2;
  std::vector<std::string> open;
  int roots = 0;
  auto entity_ok = [&](size_t amp) {
    const size_t semi = xml.find(';', amp);
    if (semi == std::string::npos || semi - amp > 6) return false;
    for (size_t i = amp + 1; i < semi; ++i) {
      if (!std::isalnum(static_cast<unsigned char>(xml[i])) && xml[i] != '#') return false;
    }
    return semi > amp + 1;
  };
  while (at < xml.size()) {
    const size_t lt = xml.find('<', at);
    for (size_t i = at; i < std::min(lt, xml.size()); ++i) {
      if (xml[i] == '&' && !entity_ok(i)) return ::testing::AssertionFailure() << "bare & at " << i;
      if (!std::isspace(static_cast<unsigned char>(xml[i])) && open.empty()) {
        return ::testing::AssertionFailure() << "text outside the root at " << i;
      }
    }
    if (lt == std::string::npos) break;
    size_t i = lt + 1;
    const bool closing = xml[i] == '/';
    if (closing) ++i;
    const size_t name_start = i;
    while (i < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[i])) || xml[i] == '-' || xml[i] == ':')) ++i;
    const std::string name = xml.substr(name_start, i - name_start);
    if (name.empty()) return ::testing::AssertionFailure() << "no element name at " << lt;
    if (closing) {
      if (open.empty() || open.back() != name || xml[i] != '>') {
        return ::testing::AssertionFailure() << "</" << name << "> closes "
                                             << (open.empty() ? "nothing" : open.back());
      }
      open.pop_back();
      at = i + 1;
      continue;
    }
    while (true) {  // attributes
      while (std::isspace(static_cast<unsigned char>(xml[i]))) ++i;
      if (xml.compare(i, 2, "/>") == 0 || xml[i] == '>') break;
      const size_t eq = xml.find('=', i);
      if (eq == std::string::npos || xml[eq + 1] != '"') {
        return ::testing::AssertionFailure() << "unquoted attribute in <" << name << "> at " << i;
      }
      const size_t end = xml.find('"', eq + 2);
      for (size_t k = eq + 2; k < end; ++k) {
        if (xml[k] == '<') return ::testing::AssertionFailure() << "'<' in an attribute at " << k;
        if (xml[k] == '&' && !entity_ok(k)) return ::testing::AssertionFailure() << "bare & at " << k;
      }
      i = end + 1;
    }
    if (open.empty()) ++roots;
    if (xml[i] == '>') {
      open.push_back(name);
      at = i + 1;
    } else {
      at = i + 2;
    }
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> left open";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

std::string Attribute(absl::string_view element, absl::string_view name) {
  const std::string key = absl::StrCat(" ", name, "=\"");
  const size_t at = element.find(key);
  if (at == absl::string_view::npos) return "";
  const size_t start = at + key.size();
  return std::string(element.substr(start, element.find('"', start) - start));
}

struct PlottedPoint {
  std::string series, x;
  double data_y, cx, cy;
};

// The points of each panel, in drawing order.
std::vector<std::vector<PlottedPoint>> Panels(const std::string& svg) {
  std::vector<std::vector<PlottedPoint>> panels;
  std::vector<std::string> parts = absl::StrSplit(svg, "<g class=\"panel\">");
  for (size_t p = 1; p < parts.size(); ++p) {
    std::vector<PlottedPoint>& points = panels.emplace_back();
    for (absl::string_view line : absl::StrSplit(parts[p], '\n')) {
      if (!absl::StartsWith(line, "<circle")) continue;
      PlottedPoint point;
      point.series = Attribute(line, "data-series");
      point.x = Attribute(line, "data-x");
      EXPECT_TRUE(absl::SimpleAtod(Attribute(line, "data-y"), &point.data_y)) << line;
      EXPECT_TRUE(absl::SimpleAtod(Attribute(line, "cx"), &point.cx)) << line;
      EXPECT_TRUE(absl::SimpleAtod(Attribute(line, "cy"), &point.cy)) << line;
      points.push_back(point);
    }
  }
  return panels;
}

// Every pair of points of a panel in the data's order on screen: x to the right, y up.
void ExpectMonotonic(const std::vector<PlottedPoint>& points, bool numeric_x) {
  for (const PlottedPoint& a : points) {
    for (const PlottedPoint& b : points) {
      if (a.data_y < b.data_y) EXPECT_GT(a.cy, b.cy) << a.data_y << " vs " << b.data_y;
      if (a.data_y == b.data_y) EXPECT_NEAR(a.cy, b.cy, 0.01);
      if (!numeric_x) continue;
      double ax = 0, bx = 0;
      ASSERT_TRUE(absl::SimpleAtod(a.x, &ax) && absl::SimpleAtod(b.x, &bx));
      if (ax < bx) EXPECT_LT(a.cx, b.cx) << ax << " vs " << bx;
    }
  }
}

// Two models x two tasks; none, rtn at 4 and 3 bits, gptq at two group sizes.
std::vector<v1::ResultRow> Sweep() {
  std::vector<TestResult> results;
  for (const std::string model : {"tiny", "qwen"}) {
    const double scale = model == "tiny" ? 1 : 2;
    for (const std::string task : {"ppl", "boolq"}) {
      const std::string metric = task == "ppl" ? "ppl" : "accuracy";
      auto add = [&](const std::string& method, std::map<std::string, std::string> params,
                     double bits_per_weight, double ppl) {
        const double value = task == "ppl" ? ppl * scale : 1 / ppl;
        results.push_back(OnModel(
            Result(method, params,
                   {{metric, value, ""}, {"bits_per_weight", bits_per_weight, "bits/weight"}}, task),
            model));
      };
      add("none", {}, 32, 10);
      add("rtn", {{"bits", "4"}, {"group_size", "32"}}, 5, 11);
      add("rtn", {{"bits", "3"}, {"group_size", "32"}}, 4, 16);
      add("gptq", {{"bits", "4"}, {"group_size", "32"}}, 5, 10.5);
      add("gptq", {{"bits", "4"}, {"group_size", "128"}}, 4.25, 10.8);
    }
  }
  return MakeResultRows(results);
}

TEST(CoordResultsPlotTest, WellFormedSvgWithAPanelPerModelAndTask) {
  absl::StatusOr<std::string> svg = PlotResults(Sweep(), PlotOptions());
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(WellFormed(*svg)) << *svg;
  const auto panels = Panels(*svg);
  ASSERT_EQ(panels.size(), 4u);
  for (const auto& points : panels) EXPECT_EQ(points.size(), 4u);  // quantized only
  for (const char* title : {">tiny \xC2\xB7 ppl<", ">tiny \xC2\xB7 boolq<", ">qwen \xC2\xB7 ppl<",
                            ">qwen \xC2\xB7 boolq<", ">bits/weight<", ">ppl<", ">acc<", ">rtn<",
                            ">gptq<", ">none (baseline)<"}) {
    EXPECT_TRUE(absl::StrContains(*svg, title)) << title;
  }
  // The baseline: a dashed line in each panel and in the legend.
  std::vector<std::string> dashed = absl::StrSplit(*svg, "stroke-dasharray=\"5 4\"");
  EXPECT_EQ(dashed.size() - 1, 5u);
}

TEST(CoordResultsPlotTest, PointsMapTheDataMonotonically) {
  for (bool log_y : {false, true}) {
    PlotOptions options;
    options.log_y = log_y;
    absl::StatusOr<std::string> svg = PlotResults(Sweep(), options);
    ASSERT_TRUE(svg.ok()) << svg.status();
    for (const auto& points : Panels(*svg)) ExpectMonotonic(points, /*numeric_x=*/true);
  }
}

TEST(CoordResultsPlotTest, LogScaleSpacesEqualRatiosEqually) {
  const auto results = MakeResultRows({Result("rtn", {{"bits", "2"}}, {{"ppl", 4, ""}, {"bits_per_weight", 2, ""}}),
                                       Result("rtn", {{"bits", "3"}}, {{"ppl", 8, ""}, {"bits_per_weight", 3, ""}}),
                                       Result("rtn", {{"bits", "4"}}, {{"ppl", 16, ""}, {"bits_per_weight", 4, ""}})});
  PlotOptions options;
  options.log_y = true;
  auto log_points = Panels(*PlotResults(results, options))[0];
  ASSERT_EQ(log_points.size(), 3u);
  EXPECT_NEAR(log_points[0].cy - log_points[1].cy, log_points[1].cy - log_points[2].cy, 0.02);
  EXPECT_NEAR(log_points[1].cx - log_points[0].cx, log_points[2].cx - log_points[1].cx, 0.02);
  auto linear_points = Panels(*PlotResults(results, PlotOptions()))[0];
  EXPECT_NEAR(2 * (linear_points[0].cy - linear_points[1].cy), linear_points[1].cy - linear_points[2].cy,
              0.02);
}

TEST(CoordResultsPlotTest, GroupSizeAxisIsOrderedWithWholeRowsLast) {
  std::vector<TestResult> results;
  for (const char* group : {"128", "32", "-1", "64"}) {
    results.push_back(Result("rtn", {{"bits", "4"}, {"group_size", group}}, {{"accuracy", 0.5, ""}}, "boolq"));
    results.push_back(Result("rtn", {{"bits", "3"}, {"group_size", group}}, {{"accuracy", 0.4, ""}}, "boolq"));
  }
  PlotOptions options;
  options.x = "group_size";
  absl::StatusOr<std::string> svg = PlotResults(MakeResultRows(results), options);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(WellFormed(*svg));
  const auto points = Panels(*svg)[0];
  ASSERT_EQ(points.size(), 8u);
  std::map<std::string, double> cx;
  for (const PlottedPoint& p : points) {
    EXPECT_TRUE(p.series == "rtn bits=4" || p.series == "rtn bits=3") << p.series;  // a line per bits
    cx[p.x] = p.cx;
  }
  EXPECT_LT(cx["32"], cx["64"]);
  EXPECT_LT(cx["64"], cx["128"]);
  EXPECT_LT(cx["128"], cx["-1"]);
}

TEST(CoordResultsPlotTest, ConfigurationsAtTheSameXAreNotAveragedTogether) {
  // Weights held dequantized: 4- and 3-bit RTN both at 32 bits per weight, two points.
  const auto results = MakeResultRows(
      {Result("rtn", {{"bits", "4"}}, {{"ppl", 4.4, ""}, {"bits_per_weight", 32, ""}}),
       Result("rtn", {{"bits", "3"}}, {{"ppl", 7.2, ""}, {"bits_per_weight", 32, ""}})});
  auto points = Panels(*PlotResults(results, PlotOptions()))[0];
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].cx, points[1].cx);
  EXPECT_NE(points[0].data_y, points[1].data_y);
  EXPECT_FALSE(absl::StrContains(*PlotResults(results, PlotOptions()), "<polyline"));  // no x-trend
  // Repeats of one configuration are.
  std::vector<TestResult> repeats = {Result("rtn", {{"bits", "4"}}, {{"ppl", 4, ""}, {"bits_per_weight", 4.5, ""}}),
                                     Result("rtn", {{"bits", "4"}}, {{"ppl", 5, ""}, {"bits_per_weight", 4.5, ""}})};
  repeats[1].repeat = 1;
  points = Panels(*PlotResults(MakeResultRows(repeats), PlotOptions()))[0];
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].data_y, 4.5);
}

TEST(CoordResultsPlotTest, TextIsEscaped) {
  const auto results = MakeResultRows(
      {OnModel(Result("rtn", {}, {{"ppl", 4, ""}, {"bits_per_weight", 4, ""}}), "a<b&\"c\"")});
  absl::StatusOr<std::string> svg = PlotResults(results, PlotOptions());
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(WellFormed(*svg)) << *svg;
  EXPECT_TRUE(absl::StrContains(*svg, "a&lt;b&amp;&quot;c&quot;"));
}

TEST(CoordResultsPlotTest, NothingToPlotIsNotFound) {
  const auto results = MakeResultRows(
      {Result("rtn", {}, {{"decode_ms_p50", 4, "ms"}, {"bits_per_weight", 4, ""}}, "efficiency")});
  EXPECT_EQ(PlotResults(results, PlotOptions()).status().code(), absl::StatusCode::kNotFound);
  PlotOptions options;
  options.y = "decode_ms_p50";  // asked for by name, efficiency plots too
  EXPECT_TRUE(PlotResults(results, options).ok());
}

// A layer scan: ppl per quantized block against the float baseline, as Δ %.
TEST(CoordResultsPlotTest, DeltaPlotsTheChangeAgainstTheBaselineInPercent) {
  std::vector<TestResult> results = {Result("none", {}, {{"ppl", 5.0, ""}})};
  const std::map<std::string, double> ppl = {{"0", 6.0}, {"1", 5.5}, {"2", 5.1}, {"-1", 8.0}};
  for (const auto& [block, value] : ppl) {
    results.push_back(Result("rtn", {{"bits", "3"}, {"block", block}}, {{"ppl", value, ""}}));
  }
  PlotOptions options;
  options.x = "block";
  options.delta = true;
  absl::StatusOr<std::string> svg = PlotResults(MakeResultRows(results), options);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(WellFormed(*svg));
  EXPECT_TRUE(absl::StrContains(*svg, "vs none (%)"));
  const auto points = Panels(*svg)[0];
  ASSERT_EQ(points.size(), 4u);
  std::map<std::string, PlottedPoint> at;
  for (const PlottedPoint& p : points) at[p.x] = p;
  EXPECT_NEAR(at["0"].data_y, 20.0, 1e-9);   // 6.0 / 5.0 - 1
  EXPECT_NEAR(at["1"].data_y, 10.0, 1e-9);
  EXPECT_NEAR(at["2"].data_y, 2.0, 1e-9);
  EXPECT_NEAR(at["-1"].data_y, 60.0, 1e-9);  // the whole model, last
  EXPECT_LT(at["0"].cx, at["1"].cx);
  EXPECT_LT(at["2"].cx, at["-1"].cx);
  EXPECT_LT(at["0"].cy, at["2"].cy);  // larger change higher up
  // The line joins the blocks only; the whole model's point stands apart.
  const size_t polyline = svg->find("<polyline");
  ASSERT_NE(polyline, std::string::npos);
  const std::string line = svg->substr(polyline, svg->find('>', polyline) - polyline);
  EXPECT_EQ(std::count(line.begin(), line.end(), ','), 3) << line;  // 3 points, not 4
  // Without a baseline there is nothing to compare with.
  results.erase(results.begin());
  EXPECT_EQ(PlotResults(MakeResultRows(results), options).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CoordPlotAxisTest, LinearTicksAreRoundAndCoverTheData) {
  AxisScale axis = LinearAxis(3.2, 7.9);
  EXPECT_EQ(axis.lo, 3);
  EXPECT_EQ(axis.hi, 8);
  ASSERT_EQ(axis.ticks.size(), 6u);
  EXPECT_EQ(axis.ticks[1].label, "4");
  EXPECT_DOUBLE_EQ(axis.Fraction(5.5), 0.5);
  axis = LinearAxis(0.41, 0.47);
  EXPECT_LE(axis.lo, 0.41);
  EXPECT_GE(axis.hi, 0.47);
  EXPECT_EQ(axis.ticks[0].label, "0.4");
  EXPECT_EQ(axis.ticks[1].label, "0.42");
  axis = LinearAxis(5, 5);  // one value: a margin around it
  EXPECT_LT(axis.lo, 5);
  EXPECT_GT(axis.hi, 5);
}

TEST(CoordPlotAxisTest, LogTicksAtOneTwoFivePerDecade) {
  AxisScale axis = LogAxis(4, 90);
  std::vector<std::string> labels;
  for (const Tick& t : axis.ticks) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"5", "10", "20", "50", "100"}));  // 90 + 5 %
  EXPECT_NEAR(axis.Fraction(10) - axis.Fraction(5), axis.Fraction(20) - axis.Fraction(10), 1e-12);
  axis = LogAxis(4.1, 7.2);  // narrow: every integer
  labels.clear();
  for (const Tick& t : axis.ticks) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"4", "5", "6", "7"}));
  axis = LogAxis(4.02, 4.42);  // narrower still: round linear steps
  labels.clear();
  for (const Tick& t : axis.ticks) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"4", "4.1", "4.2", "4.3", "4.4"}));
}

}  // namespace
}  // namespace llmq
