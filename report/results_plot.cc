#include "report/results_plot.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "report/metric_catalog.h"
#include "report/plot_axis.h"
#include "report/result_coordinates.h"
#include "report/svg_writer.h"

namespace llmq {
namespace {

constexpr double kPanelWidth = 360, kPanelHeight = 270;
constexpr double kLeft = 66, kRight = 16, kTop = 34, kBottom = 46;  // plot area margins
constexpr double kLegendRow = 24;
constexpr int kPanelsPerRow = 3;
constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                                   "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"};
constexpr const char* kBaselineColor = "#555555";

struct Mean {
  double sum = 0;
  int count = 0;
  void Add(double value) { sum += value, ++count; }
  double Value() const { return sum / count; }
};

// One method configuration in a panel: its repeats averaged. Configurations are never
// averaged together, even where they share an x (3- and 4-bit RTN may both hold 32 bits
// per weight when the weights are stored dequantized).
struct PlotPoint {
  std::string configuration;  // "rtn bits=4 group_size=32"
  std::string category;       // x on a category axis: the coordinate's value
  Mean x, y;                  // x on a metric axis
};

struct Panel {
  std::string title;
  std::string y_metric, y_unit, x_unit;
  std::map<std::string, std::map<std::string, PlotPoint>> series;  // series -> configuration
  Mean baseline;
};

// Category order: numbers ascending, -1 (a whole row, for group_size) after them, then text.
bool CategoryBefore(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  const bool a_number = absl::SimpleAtod(a, &x), b_number = absl::SimpleAtod(b, &y);
  if (a_number != b_number) return a_number;
  if (!a_number) return a < b;
  if ((x == -1) != (y == -1)) return y == -1;
  return x < y;
}

std::optional<double> MetricValue(const v1::ResultRow& result, const std::string& name,
                                  std::string* unit) {
  for (const auto& metric : result.result().metrics()) {
    if (metric.name() != name || !std::isfinite(metric.value())) continue;
    if (unit != nullptr) *unit = metric.unit();
    return metric.value();
  }
  return std::nullopt;
}

std::string Data(double value) { return absl::StrFormat("%.9g", value); }

double Largest(const std::vector<double>& values) {
  double largest = 0;
  for (double v : values) largest = std::max(largest, std::abs(v));
  return largest;
}

}  // namespace

absl::StatusOr<std::string> PlotResults(const std::vector<v1::ResultRow>& results,
                                        const PlotOptions& options) {
  std::vector<Coordinates> coordinates;
  for (const auto& result : results) coordinates.push_back(JobCoordinates(result.spec()));
  bool x_is_coordinate = false;
  for (const Coordinates& c : coordinates) x_is_coordinate |= c.count(options.x) > 0;
  // Panels: model (and dtype), task and the task parameters that vary. Series: the method
  // and the method coordinates that vary, but the x axis's (on a metric axis, bits and
  // group size move along the line, so only calibration settings split it).
  std::vector<std::string> panel_names = {"model"}, series_names = {"method"}, method_names;
  for (const std::string& name : CoordinateOrder(coordinates)) {
    if (IsMethodCoordinate(name)) method_names.push_back(name);
    if (!Varies(coordinates, name) || name == "method" || name == options.x) continue;
    if (name == "dtype" || (name.rfind("task.", 0) == 0 && Varies(coordinates, name, "task"))) {
      panel_names.push_back(name);
    }
    if (name == "task") panel_names.push_back(name);
    if (IsMethodCoordinate(name) && (x_is_coordinate || name.rfind("calibration.", 0) == 0)) {
      series_names.push_back(name);
    }
  }
  if (std::find(panel_names.begin(), panel_names.end(), "task") == panel_names.end()) {
    panel_names.insert(panel_names.begin() + 1, "task");
  }

  std::vector<std::string> panel_order, series_order;
  std::map<std::string, Panel> panels;
  for (size_t i = 0; i < results.size(); ++i) {
    std::vector<std::string> names;
    for (const auto& metric : results[i].result().metrics()) names.push_back(metric.name());
    const std::string y_metric =
        options.y.empty() ? PlotMetric(results[i].spec().task().name(), names) : options.y;
    std::string y_unit;
    const std::optional<double> y = MetricValue(results[i], y_metric, &y_unit);
    if (y_metric.empty() || !y.has_value()) continue;
    const std::string panel_key = absl::StrCat(CoordinateKey(coordinates[i], panel_names), "\x1e", y_metric);
    auto [it, added] = panels.try_emplace(panel_key);
    Panel& panel = it->second;
    if (added) {
      panel_order.push_back(panel_key);
      panel.title = absl::StrJoin(LabelParts(coordinates[i], panel_names), " \xC2\xB7 ");
      panel.y_metric = y_metric;
      panel.y_unit = y_unit;
    }
    if (coordinates[i].at("method") == kBaselineMethod) {
      panel.baseline.Add(*y);
      continue;
    }
    std::string category;
    std::optional<double> x;
    if (x_is_coordinate) {
      auto it = coordinates[i].find(options.x);
      if (it == coordinates[i].end()) continue;
      category = it->second;
    } else {
      x = MetricValue(results[i], options.x, &panel.x_unit);
      if (!x.has_value()) continue;
    }
    const std::string series = absl::StrJoin(LabelParts(coordinates[i], series_names), " ");
    if (std::find(series_order.begin(), series_order.end(), series) == series_order.end()) {
      series_order.push_back(series);
    }
    PlotPoint& point = panel.series[series][CoordinateKey(coordinates[i], method_names)];
    point.configuration = absl::StrJoin(LabelParts(coordinates[i], method_names), " ");
    point.category = category;
    if (x.has_value()) point.x.Add(*x);
    point.y.Add(*y);
  }
  panel_order.erase(std::remove_if(panel_order.begin(), panel_order.end(),
                                   [&](const std::string& key) {
                                     const Panel& panel = panels[key];
                                     return panel.series.empty() ||
                                            (options.delta && (panel.baseline.count == 0 ||
                                                               panel.baseline.Value() == 0));
                                   }),
                    panel_order.end());
  if (panel_order.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "nothing to plot: no quantized result has both x=", options.x, " and ",
        options.y.empty() ? "a task's headline metric" : absl::StrCat("y=", options.y),
        options.delta ? absl::StrCat(" with a ", kBaselineMethod, " baseline to compare with")
                      : ""));
  }

  // Layout: a legend across the top, then panels in rows.
  const int columns = std::min<int>(kPanelsPerRow, panel_order.size());
  const int rows = (panel_order.size() + columns - 1) / columns;
  const double width = columns * kPanelWidth;
  std::vector<std::string> legend = series_order;
  legend.push_back(absl::StrCat(kBaselineMethod, " (baseline)"));
  int legend_rows = 1;
  double cursor = 12;
  for (const std::string& entry : legend) {
    const double entry_width = 40 + 7 * entry.size();
    if (cursor + entry_width > width && cursor > 12) ++legend_rows, cursor = 12;
    cursor += entry_width;
  }
  const double legend_height = legend_rows * kLegendRow + 8;
  SvgDocument svg(width, legend_height + rows * kPanelHeight);
  svg.Rect(0, 0, width, legend_height + rows * kPanelHeight, "#ffffff");

  svg.BeginGroup("legend");
  cursor = 12;
  double legend_y = kLegendRow;
  for (size_t s = 0; s < legend.size(); ++s) {
    const double entry_width = 40 + 7 * legend[s].size();
    if (cursor + entry_width > width && cursor > 12) cursor = 12, legend_y += kLegendRow;
    const bool baseline = s + 1 == legend.size();
    const std::string color = baseline ? kBaselineColor : kColors[s % std::size(kColors)];
    svg.Line(cursor, legend_y - 4, cursor + 24, legend_y - 4,
             {color, 2, baseline ? "5 4" : ""});
    if (!baseline) svg.Circle(cursor + 12, legend_y - 4, 3.5, color, legend[s]);
    svg.Text(cursor + 30, legend_y, legend[s], 12);
    cursor += entry_width;
  }
  svg.EndGroup();

  for (size_t p = 0; p < panel_order.size(); ++p) {
    const Panel& panel = panels[panel_order[p]];
    const double ox = (p % columns) * kPanelWidth;
    const double oy = legend_height + (p / columns) * kPanelHeight;
    const double x0 = ox + kLeft, x1 = ox + kPanelWidth - kRight;
    const double y0 = oy + kTop, y1 = oy + kPanelHeight - kBottom;

    // What y shows: the metric, or (delta) its change against the baseline in percent.
    auto y_value = [&](double v) {
      return options.delta ? 100 * (v / panel.baseline.Value() - 1) : v;
    };
    // Axes over what this panel shows, in display units (bytes as MB, ...).
    std::vector<double> ys, xs;
    for (const auto& [series, points] : panel.series) {
      for (const auto& [key, point] : points) {
        ys.push_back(y_value(point.y.Value()));
        if (!x_is_coordinate) xs.push_back(point.x.Value());
      }
    }
    if (panel.baseline.count > 0) ys.push_back(y_value(panel.baseline.Value()));
    const MetricInfo y_info = DescribeMetric(panel.y_metric, panel.y_unit);
    const DisplayUnit y_unit =
        options.delta ? DisplayUnit{} : ChooseDisplayUnit(y_info.unit, Largest(ys));
    const std::string y_label =
        options.delta ? absl::StrCat("\xCE\x94 ", y_info.label, " vs ", kBaselineMethod, " (%)")
                      : ColumnLabel(y_info, y_unit);
    const bool log_y =
        options.log_y && !options.delta && *std::min_element(ys.begin(), ys.end()) > 0;
    const double y_min = *std::min_element(ys.begin(), ys.end()) / y_unit.divisor;
    const double y_max = *std::max_element(ys.begin(), ys.end()) / y_unit.divisor;
    // A margin, so that no point sits on the frame.
    const double y_margin = 0.04 * (y_max - y_min);
    const AxisScale y_axis =
        log_y ? LogAxis(y_min, y_max) : LinearAxis(y_min - y_margin, y_max + y_margin);
    AxisScale x_axis;
    std::string x_label = options.x;
    DisplayUnit x_unit;
    if (x_is_coordinate) {
      std::vector<std::string> categories;
      for (const auto& [series, points] : panel.series) {
        for (const auto& [key, point] : points) {
          if (std::find(categories.begin(), categories.end(), point.category) == categories.end()) {
            categories.push_back(point.category);
          }
        }
      }
      std::sort(categories.begin(), categories.end(), CategoryBefore);
      x_axis = CategoryAxis(std::move(categories));
    } else {
      const MetricInfo x_info = DescribeMetric(options.x, panel.x_unit);
      x_unit = ChooseDisplayUnit(x_info.unit, Largest(xs));
      x_label = ColumnLabel(x_info, x_unit);
      const double x_min = *std::min_element(xs.begin(), xs.end()) / x_unit.divisor;
      const double x_max = *std::max_element(xs.begin(), xs.end()) / x_unit.divisor;
      x_axis = LinearAxis(x_min - 0.04 * (x_max - x_min), x_max + 0.04 * (x_max - x_min));
    }
    auto X = [&](double v) { return x0 + x_axis.Fraction(v) * (x1 - x0); };
    auto Y = [&](double v) { return y1 - y_axis.Fraction(v) * (y1 - y0); };
    auto x_position = [&](const PlotPoint& point) {
      if (!x_is_coordinate) return X(point.x.Value() / x_unit.divisor);
      const auto& c = x_axis.categories;
      return X(std::find(c.begin(), c.end(), point.category) - c.begin());
    };

    svg.BeginGroup("panel");
    svg.Text((x0 + x1) / 2, oy + 20, panel.title, 13, Anchor::kMiddle, 0, true);
    for (const Tick& tick : y_axis.ticks) {
      svg.Line(x0, Y(tick.value), x1, Y(tick.value), {"#e6e6e6", 1, ""});
      svg.Text(x0 - 6, Y(tick.value) + 4, tick.label, 11, Anchor::kEnd);
    }
    for (const Tick& tick : x_axis.ticks) {
      svg.Line(X(tick.value), y1, X(tick.value), y1 + 4, {"#333333", 1, ""});
      svg.Text(X(tick.value), y1 + 17, tick.label, 11, Anchor::kMiddle);
    }
    const Stroke frame{"#333333", 1, ""};
    svg.Rect(x0, y0, x1 - x0, y1 - y0, "none", &frame);
    svg.Text((x0 + x1) / 2, y1 + 36, x_label, 12, Anchor::kMiddle);
    svg.Text(ox + 16, (y0 + y1) / 2, absl::StrCat(y_label, log_y ? " (log)" : ""),
             12, Anchor::kMiddle, -90);
    if (panel.baseline.count > 0) {
      const double y = Y(y_value(panel.baseline.Value()) / y_unit.divisor);
      svg.Line(x0, y, x1, y, {kBaselineColor, 1.5, "5 4"});
    }
    for (const auto& [series, points] : panel.series) {
      const size_t index = std::find(series_order.begin(), series_order.end(), series) - series_order.begin();
      const std::string color = kColors[index % std::size(kColors)];
      std::vector<std::pair<double, double>> line;
      for (const auto& [key, point] : points) {
        // A scan's whole-model job (block -1) is a reference, not the next block: a marker only.
        if (options.x == "block" && point.category == "-1") continue;
        line.push_back({x_position(point), Y(y_value(point.y.Value()) / y_unit.divisor)});
      }
      std::sort(line.begin(), line.end());
      // A line means "as x changes"; configurations that share an x get markers only.
      const bool distinct_x = std::adjacent_find(line.begin(), line.end(), [](auto& a, auto& b) {
                                return a.first == b.first;
                              }) == line.end();
      if (line.size() > 1 && distinct_x) svg.Polyline(line, {color, 2, ""});
      for (const auto& [key, point] : points) {
        const std::string x = x_is_coordinate ? point.category : Data(point.x.Value());
        const double v = y_value(point.y.Value());
        svg.Circle(x_position(point), Y(v / y_unit.divisor), 3.5, color,
                   absl::StrCat(point.configuration, ": ", options.x, "=", x, ", ",
                                options.delta ? "delta " : "", panel.y_metric, "=", Data(v),
                                options.delta ? " %" : ""),
                   {{"data-series", series}, {"data-x", x}, {"data-y", Data(v)}});
      }
    }
    svg.EndGroup();
  }
  return svg.Finish();
}

}  // namespace llmq
