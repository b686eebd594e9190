// Axes for the results plots: a linear or logarithmic scale over a data range, or evenly
// spaced categories, each with readable ticks. A scale maps a value to a fraction of the
// axis length (0 at the start, 1 at the end), monotonically.
#ifndef LLMQ_REPORT_PLOT_AXIS_H_
#define LLMQ_REPORT_PLOT_AXIS_H_

#include <string>
#include <vector>

namespace llmq {

struct Tick {
  double value;  // a category's index for category axes
  std::string label;
};

struct AxisScale {
  enum class Kind { kLinear, kLog, kCategory };
  Kind kind = Kind::kLinear;
  double lo = 0, hi = 1;                // the domain (kLog: values, not their logarithms)
  std::vector<std::string> categories;  // kCategory, in axis order
  std::vector<Tick> ticks;

  // Where `value` (a category's index for kCategory) falls: 0 at lo, 1 at hi.
  double Fraction(double value) const;
};

// Ticks at 1, 2 or 5 times a power of ten, about five of them; the domain widened to the
// ticks around [min, max] (a single value gets a margin around it).
AxisScale LinearAxis(double min, double max);

// For positive data: ticks at 1, 2, 5 per decade (every integer mantissa when the range is
// narrower, linear round steps when narrower still); the domain is [min, max] widened by 5 %
// on the log scale.
AxisScale LogAxis(double min, double max);

// Evenly spaced categories in the given order, each at the middle of its slot.
AxisScale CategoryAxis(std::vector<std::string> categories);

// A tick label: at most four significant digits, no exponent for ordinary values.
std::string TickLabel(double value);

}  // namespace llmq

#endif  // LLMQ_REPORT_PLOT_AXIS_H_
