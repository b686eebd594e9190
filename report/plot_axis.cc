#include "report/plot_axis.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace llmq {
namespace {

// The smallest "nice" step (1, 2 or 5 times a power of ten) of at least `rough`.
double NiceStep(double rough) {
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double mantissa = rough / power;
  if (mantissa <= 1 + 1e-9) return power;
  if (mantissa <= 2 + 1e-9) return 2 * power;
  if (mantissa <= 5 + 1e-9) return 5 * power;
  return 10 * power;
}

}  // namespace

double AxisScale::Fraction(double value) const {
  switch (kind) {
    case Kind::kCategory:
      return categories.empty() ? 0.5 : (value + 0.5) / categories.size();
    case Kind::kLog:
      return (std::log(value) - std::log(lo)) / (std::log(hi) - std::log(lo));
    case Kind::kLinear:
      break;
  }
  return (value - lo) / (hi - lo);
}

std::string TickLabel(double value) {
  if (std::abs(value) < 1e-12) return "0";
  if (std::abs(value) >= 1e5 || std::abs(value) < 1e-3) return absl::StrFormat("%.3g", value);
  return absl::StrFormat("%.4g", value);
}

AxisScale LinearAxis(double min, double max) {
  if (min > max) std::swap(min, max);
  if (min == max) {
    const double margin = min == 0 ? 1 : std::abs(min) * 0.1;
    min -= margin;
    max += margin;
  }
  AxisScale scale;
  const double step = NiceStep((max - min) / 5);
  // Tolerant of 0.41 / 0.01 = 40.99999...; the domain still covers the data exactly.
  const double first = std::floor(min / step + 1e-9), last = std::ceil(max / step - 1e-9);
  scale.lo = std::min(first * step, min);
  scale.hi = std::max(last * step, max);
  for (double k = first; k <= last; ++k) {
    scale.ticks.push_back({k * step, TickLabel(k == 0 ? 0 : k * step)});
  }
  return scale;
}

AxisScale LogAxis(double min, double max) {
  if (min > max) std::swap(min, max);
  AxisScale scale;
  scale.kind = AxisScale::Kind::kLog;
  const double span = std::max(std::log(max / min), std::log(1.2));
  scale.lo = min * std::exp(-0.05 * span);
  scale.hi = max * std::exp(0.05 * span);
  for (const std::vector<int>& mantissas : {std::vector<int>{1, 2, 5},
                                            std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    scale.ticks.clear();
    for (int decade = static_cast<int>(std::floor(std::log10(scale.lo)));
         decade <= static_cast<int>(std::ceil(std::log10(scale.hi))); ++decade) {
      for (int m : mantissas) {
        const double value = m * std::pow(10.0, decade);
        if (value >= scale.lo && value <= scale.hi) scale.ticks.push_back({value, TickLabel(value)});
      }
    }
    if (scale.ticks.size() >= 3) break;
  }
  if (scale.ticks.size() < 3) {  // narrower than a decade's mantissas: round linear steps
    scale.ticks.clear();
    for (const Tick& tick : LinearAxis(scale.lo, scale.hi).ticks) {
      if (tick.value >= scale.lo && tick.value <= scale.hi) scale.ticks.push_back(tick);
    }
  }
  return scale;
}

AxisScale CategoryAxis(std::vector<std::string> categories) {
  AxisScale scale;
  scale.kind = AxisScale::Kind::kCategory;
  scale.lo = 0;
  scale.hi = categories.size();
  for (size_t i = 0; i < categories.size(); ++i) {
    scale.ticks.push_back({static_cast<double>(i), categories[i]});
  }
  scale.categories = std::move(categories);
  return scale;
}

}  // namespace llmq
