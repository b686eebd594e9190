// Packed low-bit linear layers against dense at::linear, in one process and one run:
// batch-1 matvec (decode), a few rows, and a prefill-sized block, for a 4096 x 4096
// layer. Prints Google Benchmark's table, then the speed-up of each quantized case over
// the float32 dense baseline of the same shape and rows.
//
//   llmq_linear_bench [--threads=N] [--size=4096] [benchmark flags...]
//   e.g. --benchmark_filter='/1$' --benchmark_repetitions=5 (ratios of medians)
//
// --threads sets at::set_num_threads (default 2: the cores of the dev machines).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/fp8_linear.h"
#include "model/int8_linear.h"
#include "model/linear.h"
#include "model/quantized_kernels.h"
#include "model/quantized_linear.h"
#include "quant/group_quant.h"

namespace llmq {
namespace {

int64_t g_size = 4096;

// One layer per (bits, group size, dtype), built once: quantizing 16M weights takes seconds.
const Linear& Layer(const std::string& kind, int bits, int64_t group_size, at::ScalarType dtype) {
  static std::map<std::string, std::unique_ptr<Linear>> cache;
  const std::string key = kind + std::to_string(bits) + "g" + std::to_string(group_size) +
                          c10::toString(dtype);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  at::manual_seed(0);
  at::Tensor w = at::randn({g_size, g_size}) * 0.02;  // (out, in)
  std::unique_ptr<Linear> layer;
  if (kind == "dense") {
    layer = std::make_unique<DenseLinear>(w.to(dtype).contiguous(), at::Tensor());
  } else if (kind == "w8a8" || kind == "fp8") {  // the 8-bit methods' layers (SmoothQuant, FP8)
    absl::StatusOr<std::unique_ptr<Linear>> made =
        kind == "fp8" ? absl::StatusOr<std::unique_ptr<Linear>>(Fp8Linear::Create(w, at::Tensor(), {}, dtype))
                      : absl::StatusOr<std::unique_ptr<Linear>>(Int8Linear::Create(w, at::Tensor(), {}, dtype));
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      std::exit(1);
    }
    layer = std::move(made).value();
  } else {
    GroupQuantized q = QuantizeGroups(w, QuantSpec{bits, group_size, false});
    if (kind == "act_order") {  // the same codes read through a shuffled column -> group map
      q.g_idx = at::div(at::arange(g_size, at::kLong), group_size, "floor")
                    .index_select(0, at::randperm(g_size, at::kLong)).to(at::kInt);
    }
    auto made = QuantizedLinear::Create(q.codes, q.scales, q.zeros, q.g_idx, at::Tensor(), bits,
                                        group_size, dtype);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      std::exit(1);
    }
    layer = std::move(made).value();
  }
  return *(cache[key] = std::move(layer));
}

void Run(benchmark::State& state, const Linear& layer, at::ScalarType dtype) {
  const int64_t rows = state.range(0);
  at::Tensor x = at::randn({rows, g_size}).to(dtype);  // (rows, in)
  for (auto _ : state) {
    at::Tensor y = layer.Forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.counters["weight_MB"] = static_cast<double>(layer.WeightBytes()) / 1e6;
  state.counters["rows"] = static_cast<double>(rows);
}

void BM_DenseFp32(benchmark::State& s) { Run(s, Layer("dense", 32, 0, at::kFloat), at::kFloat); }
void BM_DenseBf16(benchmark::State& s) { Run(s, Layer("dense", 16, 0, at::kBFloat16), at::kBFloat16); }
void BM_Int4G128Fp32(benchmark::State& s) { Run(s, Layer("q", 4, 128, at::kFloat), at::kFloat); }
void BM_Int4G128Bf16(benchmark::State& s) { Run(s, Layer("q", 4, 128, at::kBFloat16), at::kBFloat16); }
void BM_Int4G128ActOrderFp32(benchmark::State& s) {
  Run(s, Layer("act_order", 4, 128, at::kFloat), at::kFloat);
}
void BM_Int4G32Fp32(benchmark::State& s) { Run(s, Layer("q", 4, 32, at::kFloat), at::kFloat); }
void BM_Int3G128Fp32(benchmark::State& s) { Run(s, Layer("q", 3, 128, at::kFloat), at::kFloat); }
void BM_Int8G128Fp32(benchmark::State& s) { Run(s, Layer("q", 8, 128, at::kFloat), at::kFloat); }
void BM_W8A8Int8(benchmark::State& s) { Run(s, Layer("w8a8", 8, 0, at::kFloat), at::kFloat); }
void BM_Fp8E4M3(benchmark::State& s) { Run(s, Layer("fp8", 8, 0, at::kFloat), at::kFloat); }

BENCHMARK(BM_DenseFp32)->Arg(1)->Arg(4)->Arg(8)->Arg(9)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DenseBf16)->Arg(1)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int4G128Fp32)->Arg(1)->Arg(4)->Arg(8)->Arg(9)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int4G128Bf16)->Arg(1)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int4G128ActOrderFp32)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int4G32Fp32)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int3G128Fp32)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int8G128Fp32)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_W8A8Int8)->Arg(1)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Fp8E4M3)->Arg(1)->Arg(128)->Unit(benchmark::kMicrosecond);

// Keeps each run's time so main can print ratios after the table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // One time per benchmark: the run's, or with --benchmark_repetitions the median's.
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      if (run.run_type == Run::RT_Iteration) {
        times_.emplace(run.run_name.str(), run.GetAdjustedRealTime());
      } else if (run.aggregate_name == "median") {
        times_[run.run_name.str()] = run.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const std::map<std::string, double>& times() const { return times_; }

 private:
  std::map<std::string, double> times_;
};

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  int threads = 2;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--size=", 7) == 0) {
      llmq::g_size = std::atoll(argv[i] + 7);
    } else {
      args.push_back(argv[i]);
    }
  }
  at::set_num_threads(threads);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  std::printf("layer %lld x %lld, at::get_num_threads()=%d, fused 4-bit kernel: %s\n",
              static_cast<long long>(llmq::g_size), static_cast<long long>(llmq::g_size),
              at::get_num_threads(), llmq::FusedKernelName());
  llmq::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto& t = reporter.times();
  std::printf("\nspeed-up over dense float32 at::linear (same rows, same run):\n");
  for (const auto& [name, time] : t) {
    const size_t slash = name.find('/');
    const std::string rows = slash == std::string::npos ? "" : name.substr(slash);
    auto base = t.find("BM_DenseFp32" + rows);
    if (base == t.end() || name.rfind("BM_DenseFp32", 0) == 0) continue;
    std::printf("  %-28s %8.2fx\n", name.c_str(), base->second / time);
  }
  return 0;
}
