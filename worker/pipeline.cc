#include "worker/pipeline.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sched.h>
#include <sys/resource.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "eval/task.h"
#include "model/loader.h"

namespace llmq {
namespace {

int CoresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
}

std::string HostName() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

double PeakRssBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

absl::StatusOr<at::Device> ParseDevice(const std::string& name) {
  return CatchExceptions(absl::StrCat("device '", name, "'"), [&]() -> absl::StatusOr<at::Device> {
    at::Device device(name.empty() ? "cpu" : name);
    if (device.is_cuda() && !at::hasCUDA()) {
      return absl::FailedPreconditionError(absl::StrCat("device '", name, "': this libtorch has no CUDA"));
    }
    return device;
  });
}

// Times a stage and reports it as progress.
class StageClock {
 public:
  StageClock(v1::JobResult* result, ProgressSink* progress) : result_(result), progress_(progress) {}
  void Start(const std::string& stage) {
    Stop();
    stage_ = stage;
    start_ = std::chrono::steady_clock::now();
    if (progress_) progress_->Report(stage, 0, 0, "");
  }
  void Stop() {
    if (stage_.empty()) return;
    v1::StageTiming* t = result_->add_timings();
    t->set_stage(stage_);
    t->set_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    stage_.clear();
  }
  const std::string& stage() const { return stage_; }

 private:
  v1::JobResult* result_;
  ProgressSink* progress_;
  std::string stage_;
  std::chrono::steady_clock::time_point start_;
};

void AddMetric(v1::JobResult* result, const std::string& name, double value, const std::string& unit) {
  v1::Metric* m = result->add_metrics();
  m->set_name(name);
  m->set_value(value);
  m->set_unit(unit);
}

// Bytes and parameters of the linear layers of the transformer blocks (what quantization
// touches), for bits per weight.
void AddWeightMetrics(CausalLM& model, v1::JobResult* result) {
  int64_t linear_bytes = 0, linear_params = 0;
  for (const NamedLinear& l : model.Linears()) {
    if (l.layer < 0) continue;
    linear_bytes += (*l.slot)->WeightBytes();
    linear_params += (*l.slot)->ParameterCount();
  }
  AddMetric(result, "weight_bytes", static_cast<double>(model.WeightBytes()), "bytes");
  AddMetric(result, "block_linear_bytes", static_cast<double>(linear_bytes), "bytes");
  AddMetric(result, "bits_per_weight",
            linear_params > 0 ? 8.0 * static_cast<double>(linear_bytes) / static_cast<double>(linear_params) : 0.0,
            "bits/weight");
  AddMetric(result, "parameters", static_cast<double>(model.ParameterCount()), "");
}

}  // namespace

absl::StatusOr<v1::JobResult> RunJobPipeline(const v1::JobSpec& spec, const PipelineOptions& options,
                                             ProgressSink* progress) {
  return CatchExceptions("job", [&]() -> absl::StatusOr<v1::JobResult> {
    v1::JobResult result;
    auto& prov = *result.mutable_provenance();
    const int threads = options.threads > 0 ? options.threads : CoresAvailable();
    at::set_num_threads(threads);
    LLMQ_ASSIGN_OR_RETURN(at::Device device, ParseDevice(options.device));
    LLMQ_ASSIGN_OR_RETURN(at::ScalarType dtype,
                          ParseDtype(spec.model().dtype().empty() ? "float32" : spec.model().dtype()));
    prov["llmq_version"] = kLlmqVersion;
    prov["result_version"] = absl::StrCat(kResultVersion);
    prov["libtorch_version"] = TORCH_VERSION;
    prov["device"] = device.str();
    prov["host"] = HostName();
    prov["threads"] = absl::StrCat(threads);
    prov["dtype"] = spec.model().dtype();
    prov["job_key"] = spec.job_key();
    prov["model_identity"] = spec.model().identity();

    StageClock clock(&result, progress);
    clock.Start("load");
    auto loaded = LoadModel(spec.model().path(), LoadOptions{dtype, device});
    if (!loaded.ok()) return loaded.status();
    prov["model_format"] = loaded->format;
    prov["tokenizer"] = loaded->tokenizer->Describe();
    CausalLM& model = *loaded->model;

    const std::string& method = spec.method().name();
    if (method != "none" && !method.empty()) {
      return absl::UnimplementedError(absl::StrCat("method '", method, "' is not available yet"));
    }
    prov["method"] = method.empty() ? "none" : method;

    clock.Start("evaluate");
    TaskContext context;
    context.model = &model;
    context.tokenizer = loaded->tokenizer.get();
    context.model_path = spec.model().path();
    context.progress = [&](int64_t step, int64_t total, const std::string& message) {
      if (progress) progress->Report("evaluate", step, total, message);
    };
    Params params(spec.task().params().begin(), spec.task().params().end());
    LLMQ_ASSIGN_OR_RETURN(TaskOutput output, RunTask(spec.task().name(), params, context));
    clock.Stop();
    for (const MetricValue& m : output.metrics) AddMetric(&result, m.name, m.value, m.unit);
    for (const auto& [k, v] : output.provenance) prov[k] = v;
    AddWeightMetrics(model, &result);
    AddMetric(&result, "peak_rss_bytes", PeakRssBytes(), "bytes");
    return result;
  });
}

}  // namespace llmq
