// For results-table and plot tests: result rows from coordinates and metrics, without a
// grid file or a coordinator.
#ifndef LLMQ_REPORT_RESULTS_TEST_UTIL_H_
#define LLMQ_REPORT_RESULTS_TEST_UTIL_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "proto/llmq.pb.h"

namespace llmq {

struct TestMetric {
  std::string name;
  double value;
  std::string unit;
};

struct TestResult {
  std::string model = "tiny";
  std::string method = "none";
  std::map<std::string, std::string> method_params;  // bits, group_size
  std::string task = "ppl";
  std::map<std::string, std::string> task_params;
  int repeat = 0;
  std::vector<TestMetric> metrics;
};

// A result of `method` on `task` (standard C++17 has no designated initializers).
inline TestResult Result(const std::string& method, std::map<std::string, std::string> params,
                         std::vector<TestMetric> metrics, const std::string& task = "ppl") {
  TestResult t;
  t.method = method;
  t.method_params = std::move(params);
  t.metrics = std::move(metrics);
  t.task = task;
  return t;
}

inline TestResult OnModel(TestResult t, const std::string& model) {
  t.model = model;
  return t;
}

inline TestResult WithTaskParams(TestResult t, std::map<std::string, std::string> params) {
  t.task_params = std::move(params);
  return t;
}

inline v1::ResultRow MakeResultRow(const TestResult& t) {
  v1::ResultRow row;
  v1::JobSpec& spec = *row.mutable_spec();
  spec.set_sweep_name("s");
  spec.mutable_model()->set_alias(t.model);
  spec.mutable_method()->set_name(t.method);
  for (const auto& [name, value] : t.method_params) {
    (*spec.mutable_method()->mutable_params())[name] = value;
  }
  spec.mutable_task()->set_name(t.task);
  for (const auto& [name, value] : t.task_params) {
    (*spec.mutable_task()->mutable_params())[name] = value;
  }
  spec.set_repeat(t.repeat);
  for (const TestMetric& m : t.metrics) {
    v1::Metric* metric = row.mutable_result()->add_metrics();
    metric->set_name(m.name);
    metric->set_value(m.value);
    metric->set_unit(m.unit);
  }
  return row;
}

inline std::vector<v1::ResultRow> MakeResultRows(const std::vector<TestResult>& results) {
  std::vector<v1::ResultRow> rows;
  for (const TestResult& t : results) rows.push_back(MakeResultRow(t));
  return rows;
}

}  // namespace llmq

#endif  // LLMQ_REPORT_RESULTS_TEST_UTIL_H_
