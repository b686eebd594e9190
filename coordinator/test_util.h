// For coordinator tests: small job specs and results, without a grid file.
#ifndef LLMQ_COORDINATOR_TEST_UTIL_H_
#define LLMQ_COORDINATOR_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct TestSpec {
  std::string key;
  int priority = 0;
  std::string device = "any";
  int64_t memory = 0;
  std::string quant_key;  // default: "q-" + key
  int max_attempts = 3;
};

inline v1::JobSpec MakeSpec(const TestSpec& t) {
  v1::JobSpec spec;
  spec.set_sweep_name("test-sweep");
  spec.set_job_key(t.key);
  spec.set_quant_key(t.quant_key.empty() ? absl::StrCat("q-", t.key) : t.quant_key);
  spec.set_priority(t.priority);
  spec.set_max_attempts(t.max_attempts);
  spec.mutable_model()->set_alias("tiny");
  spec.mutable_model()->set_path("/models/tiny");
  spec.mutable_method()->set_name("rtn");
  (*spec.mutable_method()->mutable_params())["bits"] = "4";
  spec.mutable_task()->set_name("ppl");
  spec.mutable_resources()->set_device(t.device);
  spec.mutable_resources()->set_memory_bytes(t.memory);
  return spec;
}

inline std::vector<v1::JobSpec> MakeSpecs(int n, const std::string& prefix = "job") {
  std::vector<v1::JobSpec> specs;
  for (int i = 0; i < n; ++i) specs.push_back(MakeSpec({absl::StrCat(prefix, "-", i)}));
  return specs;
}

inline v1::JobResult MakeResult(double ppl) {
  v1::JobResult result;
  v1::Metric* metric = result.add_metrics();
  metric->set_name("ppl");
  metric->set_value(ppl);
  (*result.mutable_provenance())["host"] = "test-host";
  v1::StageTiming* timing = result.add_timings();
  timing->set_stage("evaluate");
  timing->set_seconds(0.25);
  return result;
}

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_TEST_UTIL_H_
