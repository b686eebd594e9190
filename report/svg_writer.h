// A small SVG writer: shapes and text appended in drawing order, every attribute value
// escaped, coordinates in user units with two decimals. Enough for line charts; no
// dependencies.
#ifndef LLMQ_REPORT_SVG_WRITER_H_
#define LLMQ_REPORT_SVG_WRITER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace llmq {

// Escapes & < > " ' for XML text and attribute values.
std::string EscapeXml(absl::string_view text);

struct Stroke {
  std::string color = "#000";
  double width = 1;
  std::string dash;  // stroke-dasharray, "" for solid: "4 3"
};

enum class Anchor { kStart, kMiddle, kEnd };

class SvgDocument {
 public:
  SvgDocument(double width, double height);

  void Line(double x1, double y1, double x2, double y2, const Stroke& stroke);
  void Polyline(const std::vector<std::pair<double, double>>& points, const Stroke& stroke);
  void Rect(double x, double y, double width, double height, const std::string& fill,
            const Stroke* stroke = nullptr);
  // A filled circle with a tooltip (`title`) and extra attributes (name, value) for readers
  // of the file (data-x="4.25").
  void Circle(double cx, double cy, double r, const std::string& fill, absl::string_view title,
              const std::vector<std::pair<std::string, std::string>>& data = {});
  // `rotate` in degrees around (x, y); the text's baseline sits at y.
  void Text(double x, double y, absl::string_view text, double size, Anchor anchor = Anchor::kStart,
            double rotate = 0, bool bold = false);
  // Groups what is drawn until the matching EndGroup under `class_name`.
  void BeginGroup(absl::string_view class_name);
  void EndGroup();

  // The document: an XML declaration and one <svg> element.
  std::string Finish() const;

 private:
  double width_, height_;
  std::string body_;
  int open_groups_ = 0;
};

}  // namespace llmq

#endif  // LLMQ_REPORT_SVG_WRITER_H_
