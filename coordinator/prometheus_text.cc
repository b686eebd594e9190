#include "coordinator/prometheus_text.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace llmq {
namespace {

std::string Escape(absl::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string FormatPrometheusValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest text that reads back as the same double ("0.1", not 0.10000000000000001).
  for (int digits = 15; digits < 17; ++digits) {
    const std::string text = absl::StrFormat("%.*g", digits, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

void PrometheusText::Family(absl::string_view name, absl::string_view type,
                            absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", Escape(help, /*quotes=*/false), "\n", "# TYPE ",
                  name, " ", type, "\n");
}

void PrometheusText::Sample(absl::string_view name, const PrometheusLabels& labels,
                            double value) {
  absl::StrAppend(&text_, name);
  if (!labels.empty()) {
    text_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&text_, i ? "," : "", labels[i].first, "=\"",
                      Escape(labels[i].second, /*quotes=*/true), "\"");
    }
    text_ += "}";
  }
  absl::StrAppend(&text_, " ", FormatPrometheusValue(value), "\n");
}

void PrometheusText::Histogram(absl::string_view name, absl::string_view help,
                               const Histogram::Snapshot& snapshot) {
  Family(name, "histogram", help);
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    Sample(bucket, {{"le", FormatPrometheusValue(snapshot.upper_bounds[i])}},
           static_cast<double>(snapshot.cumulative[i]));
  }
  Sample(bucket, {{"le", "+Inf"}}, static_cast<double>(snapshot.count));
  Sample(absl::StrCat(name, "_sum"), {}, snapshot.sum);
  Sample(absl::StrCat(name, "_count"), {}, static_cast<double>(snapshot.count));
}

}  // namespace llmq
