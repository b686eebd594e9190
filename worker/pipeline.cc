#include "worker/pipeline.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <new>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/memory.h"
#include "common/temp_dir.h"
#include "common/status.h"
#include "common/version.h"
#include "eval/task.h"
#include "glog/logging.h"
#include "model/loader.h"
#include "model/quantized_linear.h"
#include "model/runtime.h"
#include "quant/gptq_export.h"
#include "quant/quantize.h"
#include "quant/w8_swap.h"
#include "worker/artifact_cache.h"
#include "worker/host_info.h"
#include "worker/quant_artifact.h"
#include "worker/serving_process.h"

namespace llmq {
namespace {

absl::StatusOr<at::Device> ParseDevice(const std::string& name) {
  return CatchExceptions(absl::StrCat("device '", name, "'"), [&]() -> absl::StatusOr<at::Device> {
    at::Device device(name.empty() ? "cpu" : name);
    if (device.is_cuda() && !at::hasCUDA()) {
      return absl::FailedPreconditionError(absl::StrCat("device '", name, "': this libtorch has no CUDA"));
    }
    return device;
  });
}

// Times stages and reports each start as progress.
class StageClock {
 public:
  StageClock(v1::JobResult* result, ProgressSink* progress) : result_(result), progress_(progress) {}
  ~StageClock() { Stop(); }
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

void CopyExampleScores(const ExampleScores& from, v1::ExampleScores* to) {
  to->mutable_example_ids()->Add(from.ids.begin(), from.ids.end());
  for (const ExampleSeries& series : from.series) {
    v1::ScoreSeries* out = to->add_series();
    out->set_name(series.name);
    out->set_metric(series.metric);
    out->mutable_values()->Add(series.values.begin(), series.values.end());
    out->mutable_weights()->Add(series.weights.begin(), series.weights.end());
    if (series.exp) out->set_transform("exp");
  }
}

// What the weights cost: all parameters as held, and the block linears (what quantization
// touches) as bits per weight.
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
  // Every parameter, embeddings and kept layers included, as stored.
  AddMetric(result, "model_bits_per_weight",
            model.ParameterCount() > 0
                ? 8.0 * static_cast<double>(model.WeightBytes()) / static_cast<double>(model.ParameterCount())
                : 0.0,
            "bits/weight");
}

// Quantization's peaks as metrics, from the provenance that keeps them with the artifact:
// measured in this job when it quantized, or when the artifact it loaded was made (so a
// table's quantization column is filled for every task run on a quantized model, and
// quant.source says which). Artifacts older than these keys give none.
void AddQuantizePeakMetrics(const std::map<std::string, std::string>& quant_prov, v1::JobResult* result) {
  static constexpr std::pair<const char*, const char*> kPeaks[] = {
      {"quant.peak_rss_bytes", "quantize_peak_rss_bytes"},
      {"quant.cuda_peak_allocated_bytes", "quantize_cuda_peak_allocated_bytes"},
      {"quant.cuda_peak_reserved_bytes", "quantize_cuda_peak_reserved_bytes"}};
  for (const auto& [key, metric] : kPeaks) {
    auto it = quant_prov.find(key);
    int64_t bytes = 0;
    if (it != quant_prov.end() && absl::SimpleAtoi(it->second, &bytes)) {
      AddMetric(result, metric, static_cast<double>(bytes), "bytes");
    }
  }
}

// SpQR: the share of weights kept as float16 outliers, from the quantization's provenance
// (so a job that loads the artifact reports it too).
void AddOutlierFractionMetric(const std::map<std::string, std::string>& quant_prov, v1::JobResult* result) {
  auto outliers = quant_prov.find("quant.outlier_fraction");
  double fraction = 0;
  if (outliers != quant_prov.end() && absl::SimpleAtod(outliers->second, &fraction)) {
    AddMetric(result, "outlier_fraction", fraction, "");
  }
}

constexpr char kServingPeak[] =
    "reset once the model was installed (clear_refs), to the task's end; library code counts as "
    "serving runs it";

// The job's result from the serving process's (its task metrics, memory, and the load and
// evaluate stages on the export) and this process's quantization: its stages come first,
// its loading of the original as "load_original" ("load" is the export's, which is what
// serving it costs), and its provenance says where the model came from.
v1::JobResult MergeServedResult(const v1::JobResult& quantizing, v1::JobResult served) {
  v1::JobResult merged = served;
  merged.clear_timings();
  for (v1::StageTiming timing : quantizing.timings()) {
    if (timing.stage() == "load") timing.set_stage("load_original");
    AddMetric(&merged, absl::StrCat(timing.stage(), "_seconds"), timing.seconds(), "s");
    *merged.add_timings() = timing;
  }
  for (const v1::StageTiming& timing : served.timings()) *merged.add_timings() = timing;
  auto& prov = *merged.mutable_provenance();
  for (const auto& [k, v] : quantizing.provenance()) prov[k] = v;
  // Its own artifact path points into this job's temporary cache, gone with the job.
  if (!quantizing.provenance().count("quant.artifact")) prov.erase("quant.artifact");
  const std::string& peak = served.provenance().count("memory.peak") ? served.provenance().at("memory.peak") : "";
  if (absl::StartsWith(peak, "serving: ")) {
    prov["memory.peak"] = absl::StrCat("serving, in a fresh process that loaded the quantized export: ",
                                       absl::StripPrefix(peak, "serving: "));
  }
  return merged;
}

int64_t FilesBytes(const std::vector<std::string>& files) {
  int64_t total = 0;
  for (const std::string& f : files) {
    auto size = FileSize(f);
    if (size.ok()) total += static_cast<int64_t>(*size);
  }
  return total;
}

Params ToParams(const google::protobuf::Map<std::string, std::string>& map) {
  return Params(map.begin(), map.end());
}

CalibrationSpec ToCalibrationSpec(const v1::CalibrationSpec& c) {
  CalibrationSpec spec;
  if (!c.dataset().empty()) spec.dataset = c.dataset();
  if (c.samples() > 0) spec.samples = c.samples();
  if (c.seq_len() > 0) spec.seq_len = c.seq_len();
  spec.seed = c.seed();
  if (!c.mode().empty()) spec.mode = c.mode();
  return spec;
}

absl::StatusOr<v1::JobResult> Run(const v1::JobSpec& spec, const PipelineOptions& options,
                                  ProgressSink* progress) {
  v1::JobResult result;
  auto& prov = *result.mutable_provenance();
  const int threads = ConfigureCpuRuntime(options.threads);
  LLMQ_ASSIGN_OR_RETURN(at::Device device, ParseDevice(options.device));
  ResetCudaAllocatorPeak(device);
  const std::string dtype_name = spec.model().dtype().empty() ? "float32" : spec.model().dtype();
  LLMQ_ASSIGN_OR_RETURN(at::ScalarType dtype, ParseDtype(dtype_name));
  const std::string method = spec.method().name().empty() ? "none" : spec.method().name();
  prov["llmq_version"] = kLlmqVersion;
  prov["result_version"] = absl::StrCat(kResultVersion);
  prov["libtorch_version"] = TORCH_VERSION;
  prov["device"] = device.str();
  prov["host"] = HostName();
  prov["threads"] = absl::StrCat(threads);
  prov["dtype"] = dtype_name;
  // Packed (GPTQ/RTN/AWQ) linears on the CPU pick their kernel from the CPU's instructions
  // and the model's dtype: the bfloat16 units (AMX, AVX512-BF16) for bfloat16 models only.
  if (device.is_cpu()) prov["kernels.packed"] = QuantizedLinear::CpuKernels(dtype);
  prov["job_key"] = spec.job_key();
  prov["model_identity"] = spec.model().identity();
  prov["method"] = method;

  std::unique_ptr<ArtifactCache> cache;
  if (method != "none" && !options.artifact_cache.empty() && !spec.quant_key().empty()) {
    LLMQ_ASSIGN_OR_RETURN(cache, ArtifactCache::Open(options.artifact_cache, options.artifact_cache_bytes));
  }
  // For a job that quantizes and then serves from a fresh process: that process's files,
  // a cache for the export when there is no artifact cache, and the cache it loads from.
  std::unique_ptr<TempDir> serving_dir;
  std::unique_ptr<ArtifactCache> serving_cache;
  ArtifactCache* serve_from = nullptr;
  const LoadOptions load_options{dtype, device};
  StageClock clock(&result, progress);
  LoadedModel loaded;
  std::vector<std::string> disk_files;
  if (cache != nullptr && cache->Has(spec.quant_key())) {
    // The quantized model of this exact (model, method, parameters, calibration) exists.
    clock.Start("load");
    const std::string artifact = cache->Path(spec.quant_key());
    LLMQ_ASSIGN_OR_RETURN(loaded, LoadModelWithoutTokenizer(artifact, load_options));
    // The tokenizer is the original model's, as in a job that quantizes: quantization does
    // not change it, and the export carries a llama2.c model's as SentencePiece (its
    // tok512.model beside tok512.bin), which splits some text differently (stories260K RTN
    // g16 WikiText-2 ppl 156.6 through it, 156.9 through the original's). The export's is
    // not loaded at all: its library's pages would stay resident (1 MB of SentencePiece).
    LLMQ_ASSIGN_OR_RETURN(loaded.tokenizer, LoadModelTokenizer(spec.model().path()));
    // The export's size on disk still counts the tokenizer files it carries.
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) {
      if (FileExists(JoinPath(artifact, name))) loaded.files.push_back(JoinPath(artifact, name));
    }
    LLMQ_RETURN_IF_ERROR(cache->Touch(spec.quant_key()));
    LLMQ_ASSIGN_OR_RETURN(auto quant_prov, ReadQuantizationProvenance(artifact));
    AddQuantizePeakMetrics(quant_prov, &result);
    AddOutlierFractionMetric(quant_prov, &result);
    for (const auto& [k, v] : quant_prov) prov[k] = v;
    prov["quant.source"] = "artifact cache";
    prov["quant.artifact"] = artifact;
    disk_files = loaded.files;
  } else {
    clock.Start("load");
    LLMQ_ASSIGN_OR_RETURN(loaded, LoadModel(spec.model().path(), load_options));
    disk_files = loaded.files;
    if (method != "none") {
      FitBlasThreadsToModel(loaded.model->config().hidden_size, threads);
      clock.Start("quantize");
      auto quant_progress = [&](const std::string& stage, int64_t done, int64_t total) {
        if (progress) progress->Report(stage == "calibration" ? "calibrate" : "quantize", done, total, "");
      };
      LLMQ_ASSIGN_OR_RETURN(
          QuantizationReport report,
          QuantizeModel(*loaded.model, *loaded.tokenizer, method, ToParams(spec.method().params()),
                        ToCalibrationSpec(spec.calibration()), quant_progress));
      // What quantizing cost: the high-water marks from the job's start through loading,
      // calibration and quantization (the export below only copies the result).
      std::map<std::string, std::string> quant_prov = QuantizationProvenance(report);
      quant_prov["quant.peak_rss_bytes"] = absl::StrCat(PeakRssBytes());
      DeviceMemoryPeak quantize_device_peak;
      if (CudaAllocatorPeak(device, &quantize_device_peak)) {
        quant_prov["quant.cuda_peak_allocated_bytes"] = absl::StrCat(quantize_device_peak.allocated_bytes);
        quant_prov["quant.cuda_peak_reserved_bytes"] = absl::StrCat(quantize_device_peak.reserved_bytes);
      }
      AddQuantizePeakMetrics(quant_prov, &result);
      AddOutlierFractionMetric(quant_prov, &result);
      for (const auto& [k, v] : quant_prov) prov[k] = v;
      prov["quant.source"] = "quantized in this job";
      // The export goes to the cache; to serve from a fresh process without one, to a
      // temporary cache of this job's.
      ArtifactCache* export_cache = cache.get();
      if (!options.serving_command.empty()) {
        serving_dir = std::make_unique<TempDir>("llmq_serving");
        if (serving_dir->path().empty()) {
          return absl::UnavailableError("cannot create a temporary directory for the serving process");
        }
        if (export_cache == nullptr) {
          LLMQ_ASSIGN_OR_RETURN(serving_cache, ArtifactCache::Open(JoinPath(serving_dir->path(), "cache"), 0));
          export_cache = serving_cache.get();
        }
      }
      if (export_cache != nullptr) {
        clock.Start("export");
        auto exported = ExportToCache(*loaded.model, spec.model().path(), spec.quant_key(), quant_prov, *export_cache);
        if (exported.ok()) {
          disk_files = *exported;
          if (cache != nullptr) prov["quant.artifact"] = cache->Path(spec.quant_key());
          if (serving_dir != nullptr) serve_from = export_cache;
        } else if (cache != nullptr) {
          prov["quant.artifact"] = absl::StrCat("not cached: ", exported.status().message());
        }
        if (!exported.ok()) {
          LOG(WARNING) << "serving=in_process reason=\"export failed: " << exported.status().message() << "\"";
        }
      }
    }
  }
  if (serve_from != nullptr) {
    clock.Stop();
    // The serving process loads its own copy; this one's is no longer needed, and on a GPU
    // the other process cannot use what this one's allocator keeps cached.
    loaded = LoadedModel();
    ReleaseFreedHeap();
    ReleaseCpuBlockCache();
    ReleaseCudaCache(device);
    ServingProcessRequest request;
    request.command = options.serving_command;
    request.spec = spec;
    request.cache_dir = serve_from->root();
    request.cache_max_bytes = serve_from == cache.get() ? options.artifact_cache_bytes : 0;
    request.device = options.device;
    request.threads = threads;
    request.work_dir = serving_dir->path();
    LLMQ_ASSIGN_OR_RETURN(v1::JobResult served, RunInServingProcess(request, progress));
    return MergeServedResult(result, std::move(served));
  }
  // The load stage ends with the model: the memory bookkeeping below (malloc_trim and
  // clear_refs walk the whole process, ~35 ms on stories260K against a 2.5 ms load) is
  // not loading.
  clock.Stop();
  FitBlasThreadsToModel(loaded.model->config().hidden_size, threads);
  prov["model_format"] = loaded.format;
  prov["tokenizer"] = loaded.tokenizer->Describe();
  CausalLM& model = *loaded.model;

  // The model is installed: from here on, memory is what serving it costs. Whatever loading
  // and quantizing freed goes back first (glibc, the CPU tensor allocator and the CUDA
  // allocator would otherwise keep it, and it would count), and so does the library code
  // they ran: its pages leave this process's page tables and count again as serving runs
  // them (a packed export's loader runs ATen operators that an fp32 model's does not, 2.5 MB
  // of code on stories260K, more than its 4-bit weights save). Then the high-water marks
  // drop to what is resident.
  const int64_t code_dropped = DropLoadedCodePages();
  ReleaseFreedHeap();
  ReleaseCpuBlockCache();
  ReleaseCudaCache(device);
  const absl::Status reset = ResetPeakRss();
  ResetCudaAllocatorPeak(device);
  ResetCpuTensorPeak();
  TensorMemory installed;
  const bool counting_tensors = device.is_cpu() && CpuTensorMemory(&installed);
  prov["memory.peak"] =
      !reset.ok() ? absl::StrCat("process lifetime, loading and quantization included: ", reset.message())
      : prov.count("quant.source") && prov.at("quant.source") == "quantized in this job"
          ? absl::StrCat("serving, in the process that quantized it: ", kServingPeak)
          : absl::StrCat("serving: ", kServingPeak);
  if (!reset.ok()) LOG(WARNING) << "peak_rss=lifetime reason=\"" << reset.message() << "\"";
  prov["memory.code_pages_dropped_bytes"] = absl::StrCat(code_dropped);

  clock.Start("evaluate");
  TaskContext context;
  context.model = &model;
  context.tokenizer = loaded.tokenizer.get();
  context.model_path = spec.model().path();
  context.progress = [&](int64_t step, int64_t total, const std::string& message) {
    if (progress) progress->Report("evaluate", step, total, message);
  };
  LLMQ_ASSIGN_OR_RETURN(TaskOutput output, RunTask(spec.task().name(), ToParams(spec.task().params()), context));
  clock.Stop();
  for (const MetricValue& m : output.metrics) {
    if (m.name == "peak_rss_bytes") continue;
    AddMetric(&result, m.name, m.value, m.unit);
    if (m.ci_low.has_value() && m.ci_high.has_value()) {
      v1::Metric* added = result.mutable_metrics(result.metrics_size() - 1);
      added->set_ci_low(*m.ci_low);
      added->set_ci_high(*m.ci_high);
    }
  }
  CopyExampleScores(output.examples, result.mutable_example_scores());
  for (const auto& [k, v] : output.provenance) prov[k] = v;
  AddWeightMetrics(model, &result);
  if (method == "llm_int8") {
    // LLM.int8()'s fp16 share: input columns above the threshold over the task's forwards.
    int64_t columns_seen = 0;
    const double fraction = OutlierColumnFraction(model, &columns_seen);
    if (columns_seen > 0) AddMetric(&result, "outlier_column_fraction", fraction, "");
  }
  // Only a model that exists as files has a size on disk: the original checkpoint, or the
  // exported quantized artifact.
  if (method == "none" ||
      (prov.count("quant.artifact") && !absl::StartsWith(prov["quant.artifact"], "not cached"))) {
    AddMetric(&result, "disk_bytes", static_cast<double>(FilesBytes(disk_files)), "bytes");
  }
  for (const v1::StageTiming& t : result.timings()) {
    AddMetric(&result, absl::StrCat(t.stage(), "_seconds"), t.seconds(), "s");
  }
  AddMetric(&result, "peak_rss_bytes", static_cast<double>(PeakRssBytes()), "bytes");
  // What serving the model takes in tensors: its weights (allocated or mmapped, counted
  // once) and the peak of what evaluation allocated on top of them.
  TensorMemory served;
  if (counting_tensors && CpuTensorMemory(&served)) {
    AddMetric(&result, "tensor_peak_bytes",
              static_cast<double>(model.WeightBytes() + served.peak_bytes - installed.live_bytes), "bytes");
  }
  DeviceMemoryPeak device_peak;
  if (CudaAllocatorPeak(device, &device_peak)) {
    AddMetric(&result, "cuda_peak_allocated_bytes", static_cast<double>(device_peak.allocated_bytes), "bytes");
    AddMetric(&result, "cuda_peak_reserved_bytes", static_cast<double>(device_peak.reserved_bytes), "bytes");
  }
  return result;
}

bool LooksLikeOutOfMemory(absl::string_view message) {
  return absl::StrContains(message, "out of memory") ||
         absl::StrContains(message, "can't allocate memory") ||
         absl::StrContains(message, "CUDA error: out of memory");
}

}  // namespace

absl::StatusOr<v1::JobResult> RunJobPipeline(const v1::JobSpec& spec, const PipelineOptions& options,
                                             ProgressSink* progress) {
  try {
    return Run(spec, options, progress);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory (std::bad_alloc)");
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    if (LooksLikeOutOfMemory(message)) return absl::ResourceExhaustedError(message);
    return absl::InternalError(absl::StrCat("libtorch: ", message));
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace llmq
