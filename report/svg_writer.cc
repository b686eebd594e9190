#include "report/svg_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace llmq {
namespace {

std::string Num(double value) {
  std::string text = absl::StrFormat("%.2f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string StrokeAttributes(const Stroke& stroke) {
  std::string out = absl::StrCat(" stroke=\"", EscapeXml(stroke.color), "\" stroke-width=\"",
                                 Num(stroke.width), "\"");
  if (!stroke.dash.empty()) absl::StrAppend(&out, " stroke-dasharray=\"", EscapeXml(stroke.dash), "\"");
  return out;
}

}  // namespace

std::string EscapeXml(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

SvgDocument::SvgDocument(double width, double height) : width_(width), height_(height) {}

void SvgDocument::Line(double x1, double y1, double x2, double y2, const Stroke& stroke) {
  absl::StrAppend(&body_, "<line x1=\"", Num(x1), "\" y1=\"", Num(y1), "\" x2=\"", Num(x2),
                  "\" y2=\"", Num(y2), "\"", StrokeAttributes(stroke), "/>\n");
}

void SvgDocument::Polyline(const std::vector<std::pair<double, double>>& points,
                           const Stroke& stroke) {
  std::string coordinates;
  for (const auto& [x, y] : points) {
    absl::StrAppend(&coordinates, coordinates.empty() ? "" : " ", Num(x), ",", Num(y));
  }
  absl::StrAppend(&body_, "<polyline points=\"", coordinates, "\" fill=\"none\"",
                  StrokeAttributes(stroke), "/>\n");
}

void SvgDocument::Rect(double x, double y, double width, double height, const std::string& fill,
                       const Stroke* stroke) {
  absl::StrAppend(&body_, "<rect x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"", Num(width),
                  "\" height=\"", Num(height), "\" fill=\"", EscapeXml(fill), "\"",
                  stroke ? StrokeAttributes(*stroke) : "", "/>\n");
}

void SvgDocument::Circle(double cx, double cy, double r, const std::string& fill,
                         absl::string_view title,
                         const std::vector<std::pair<std::string, std::string>>& data) {
  absl::StrAppend(&body_, "<circle cx=\"", Num(cx), "\" cy=\"", Num(cy), "\" r=\"", Num(r),
                  "\" fill=\"", EscapeXml(fill), "\"");
  for (const auto& [name, value] : data) {
    absl::StrAppend(&body_, " ", EscapeXml(name), "=\"", EscapeXml(value), "\"");
  }
  absl::StrAppend(&body_, "><title>", EscapeXml(title), "</title></circle>\n");
}

void SvgDocument::Text(double x, double y, absl::string_view text, double size, Anchor anchor,
                       double rotate, bool bold) {
  static constexpr const char* kAnchors[] = {"start", "middle", "end"};
  absl::StrAppend(&body_, "<text x=\"", Num(x), "\" y=\"", Num(y), "\" font-size=\"", Num(size),
                  "\" text-anchor=\"", kAnchors[static_cast<int>(anchor)], "\"");
  if (bold) body_ += " font-weight=\"bold\"";
  if (rotate != 0) {
    absl::StrAppend(&body_, " transform=\"rotate(", Num(rotate), " ", Num(x), " ", Num(y), ")\"");
  }
  absl::StrAppend(&body_, ">", EscapeXml(text), "</text>\n");
}

void SvgDocument::BeginGroup(absl::string_view class_name) {
  absl::StrAppend(&body_, "<g class=\"", EscapeXml(class_name), "\">\n");
  ++open_groups_;
}

void SvgDocument::EndGroup() {
  if (open_groups_ == 0) return;
  body_ += "</g>\n";
  --open_groups_;
}

std::string SvgDocument::Finish() const {
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Num(width_), "\" height=\"",
      Num(height_), "\" viewBox=\"0 0 ", Num(width_), " ", Num(height_),
      "\" font-family=\"Helvetica, Arial, sans-serif\">\n", body_);
  for (int i = 0; i < open_groups_; ++i) out += "</g>\n";
  return out + "</svg>\n";
}

}  // namespace llmq
