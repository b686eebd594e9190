#include "report/results_table.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/latex_table.h"
#include "report/paper_table.h"

namespace llmq {

Table PivotResults(const std::vector<v1::ResultRow>& results, const PivotOptions& options) {
  return ToMarkupTable(FormatPivot(PivotMetrics(results, options), options));
}

absl::StatusOr<std::string> RenderResults(const std::vector<v1::ResultRow>& results,
                                          const PivotOptions& options, absl::string_view format,
                                          const std::vector<v1::ResultRow>& references) {
  const bool markup = format == "markdown" || format == "md";
  const bool latex = format == "latex" || format == "tex";
  if (!markup && !latex && format != "csv" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown table format '", format, "' (markdown, latex, csv or json)"));
  }
  const PaperTable table = FormatPivot(PivotMetrics(results, options, references), options);
  if (markup) return RenderMarkdown(ToMarkupTable(table));
  if (latex) return RenderLatex(table);
  return RenderTable(ToPlainTable(table), format);
}

Table LongResults(const std::vector<v1::ResultRow>& results) {
  std::vector<Coordinates> coordinates;
  for (const auto& result : results) coordinates.push_back(JobCoordinates(result.spec()));
  const std::vector<std::string> names = CoordinateOrder(coordinates);
  Table table;
  table.header.push_back("job_id");
  table.header.insert(table.header.end(), names.begin(), names.end());
  for (const char* extra : {"metric", "value", "unit", "worker_id", "finished_unix"}) {
    table.header.push_back(extra);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    for (const auto& metric : results[i].result().metrics()) {
      std::vector<std::string> line = {absl::StrCat(results[i].job_id())};
      for (const std::string& name : names) {
        auto it = coordinates[i].find(name);
        line.push_back(it == coordinates[i].end() ? "" : it->second);
      }
      line.push_back(metric.name());
      // Full precision: the long form is for analysis, not reading.
      line.push_back(std::isnan(metric.value()) ? "nan"
                                                : absl::StrFormat("%.17g", metric.value()));
      line.push_back(metric.unit());
      line.push_back(results[i].worker_id());
      line.push_back(absl::StrCat(results[i].finished_unix()));
      table.rows.push_back(std::move(line));
    }
  }
  return table;
}

std::string ResultsToJson(const std::vector<v1::ResultRow>& results) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& result : results) {
    nlohmann::ordered_json row;
    row["job_id"] = result.job_id();
    row["job_key"] = result.spec().job_key();
    row["coordinates"] = JobCoordinates(result.spec());
    nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
    for (const auto& metric : result.result().metrics()) {
      metrics[metric.name()] = {{"value", metric.value()}, {"unit", metric.unit()}};
    }
    row["metrics"] = std::move(metrics);
    row["provenance"] = std::map<std::string, std::string>(result.result().provenance().begin(),
                                                           result.result().provenance().end());
    nlohmann::ordered_json timings = nlohmann::ordered_json::object();
    for (const auto& timing : result.result().timings()) timings[timing.stage()] = timing.seconds();
    row["timings_seconds"] = std::move(timings);
    row["worker_id"] = result.worker_id();
    row["finished_unix"] = result.finished_unix();
    out.push_back(std::move(row));
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace llmq
