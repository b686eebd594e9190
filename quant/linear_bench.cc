// Packed low-bit linear layers against the hardware, in one process and one run, for a
// size x size layer (default 4096):
//   rows = 1 (decode)  weight bytes streamed per second as a fraction of the read
//                      bandwidth (model/bandwidth.h); goal int4 g128 >= 0.60, the dense
//                      float32/bfloat16 GEMV >= 0.70; and as a fraction of a cold read
//                      of the same number of bytes on the same threads (vs_cold_read:
//                      the most a read of one layer's size gets from memory);
//   rows >= 2          speed over the best dense product of the same rows and activation
//                      dtype (the faster of at::linear and llmq's DenseLinear; float32,
//                      and bfloat16 for the bfloat16 case); goal (float32) >= 1.5x for
//                      2..16 rows, >= 1.0x above; from 64 rows also GFLOP/s as a
//                      fraction of the float32 FMA peak (model/bandwidth.h), the dense
//                      product's too: where BLAS runs near that peak, a float32 kernel
//                      doing the same multiply-adds can at most match it.
// Each time is the fastest of --reps timed calls (after a warm-up), so that other load on
// a shared machine shows as little as possible; before each call the caches are flushed
// (a pass over the 1 GiB bandwidth buffer), so weights come from memory as they do in a
// model (a 1B model's weights exceed any L3), not from an L3 that holds this one layer.
// Baselines are timed the same way.
//
// The 8-bit methods' layers (W8A8 int8, LLM.int8(), FP8 E4M3 with and without fp8
// activations) run at 1 and 128 rows against the same baselines.
//
//   llmq_linear_bench [--threads=N] [--size=4096] [--reps=7] [--filter=TEXT] [--rows=N,...]
//                     [--warm] [--json]
//   --filter runs only the quantized cases whose name contains TEXT (baselines always run).
//   --rows=8,512 runs those row counts in every case instead of each case's own list.
//   --warm skips the flush: with a layer that fits the caches (--size=1024), what the
//   kernels compute per second rather than what memory delivers.
//
// --threads sets at::set_num_threads (default 2: the cores of the dev machines).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (ATen.h stopped including it in 2.x)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/bench_report.h"
#include "common/cpu.h"
#include "model/bandwidth.h"
#include "model/fp8_linear.h"
#include "model/int8_linear.h"
#include "model/linear.h"
#include "model/parallel.h"
#include "model/quantized_linear.h"

namespace llmq {
namespace {

int64_t g_size = 4096;
int g_reps = 7;
std::string g_filter;
std::vector<int64_t> g_rows;  // --rows: replaces every case's row counts
bool g_warm = false;  // --warm: no cache flush between calls (compute-bound, not memory)
BandwidthProbe* g_probe = nullptr;

// Fastest of g_reps calls, each from cold caches, seconds. After the eviction pass an
// empty ParallelFor wakes the pool's workers, so a call starts as a decode step's linears
// do, one right after another with the workers still polling (model/parallel.cc): a
// worker asleep since the eviction added a futex wake-up to each call, ~50 us of a
// 4096 x 4096 int4 row's ~450.
double Time(const std::function<void()>& f) {
  f();  // warm-up: page faults, thread pool
  double best = 1e30;
  for (int i = 0; i < g_reps; ++i) {
    if (!g_warm) {
      g_probe->EvictCaches();
      llmq::ParallelFor(0, llmq::ParallelThreads(), 1, [](int64_t, int64_t) {});
    }
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// A packed layer over random codes (speed does not depend on their values); with
// act_order, a shuffled column -> group map of plain group sizes.
std::unique_ptr<QuantizedLinear> Packed(int bits, int64_t group_size, bool act_order,
                                        at::ScalarType dtype) {
  at::manual_seed(bits * 1000 + group_size);
  const int64_t groups = (g_size + group_size - 1) / group_size;
  at::Tensor codes = at::randint(0, 1 << bits, {g_size, g_size}, at::kLong).to(at::kByte);
  at::Tensor scales = at::rand({g_size, groups}) * 0.01 + 0.001;
  at::Tensor zeros = at::randint(0, 1 << bits, {g_size, groups}, at::kLong).to(at::kFloat);
  at::Tensor g_idx;
  if (act_order) {
    g_idx = at::div(at::arange(g_size, at::kLong), group_size, "floor")
                .index_select(0, at::randperm(g_size, at::kLong)).to(at::kInt);
  }
  auto made = QuantizedLinear::Create(codes, scales, zeros, g_idx, at::Tensor(), bits, group_size, dtype);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(made).value();
}

struct Case {
  std::string name;
  int bits;
  int64_t group_size;
  bool act_order;
  at::ScalarType dtype;
  std::vector<int64_t> rows;
};

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  using namespace llmq;
  int threads = 2;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--size=", 7) == 0) {
      g_size = std::atoll(argv[i] + 7);
    } else if (std::strncmp(argv[i], "--reps=", 7) == 0) {
      g_reps = std::max(1, std::atoi(argv[i] + 7));
    } else if (std::strncmp(argv[i], "--filter=", 9) == 0) {
      g_filter = argv[i] + 9;
    } else if (std::strncmp(argv[i], "--rows=", 7) == 0) {
      for (absl::string_view r : absl::StrSplit(argv[i] + 7, ',')) {
        int64_t n = 0;
        if (!absl::SimpleAtoi(r, &n) || n <= 0) {
          std::fprintf(stderr, "llmq_linear_bench: --rows wants positive counts separated by commas, got %s\n", argv[i] + 7);
          return 2;
        }
        g_rows.push_back(n);
      }
    } else if (std::strcmp(argv[i], "--warm") == 0) {
      g_warm = true;
    } else if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::fprintf(stderr, "llmq_linear_bench: unknown flag %s (--threads=N --size=N --reps=N --filter=TEXT --rows=N,... --warm --json)\n", argv[i]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  at::NoGradGuard no_grad;
  BenchReporter report(json);
  const std::vector<int64_t> all_rows = g_rows.empty() ? std::vector<int64_t>{1, 2, 4, 8, 16, 64, 128, 512} : g_rows;

  BandwidthProbe probe;
  g_probe = &probe;
  double slowest = 0;
  const double bandwidth = probe.MeasureGBs(7, &slowest);
  report.Note(absl::StrFormat(
      "layer %d x %d, %d threads, kernels: float32 %s; bfloat16 %s; read bandwidth %.1f GB/s "
      "(best of 7 passes over 1 GiB, slowest %.1f)",
      g_size, g_size, at::get_num_threads(), QuantizedLinear::CpuKernels(at::kFloat),
      QuantizedLinear::CpuKernels(at::kBFloat16), bandwidth, slowest));
  report.Add({"linear", "read_bandwidth", bandwidth, "GB/s", "itself", 1.0, std::nullopt});
  const std::string bw_name = absl::StrFormat("read_bandwidth %.1f GB/s", bandwidth);
  // The compute-bound baseline: 64+ rows are also printed as a fraction of the FMA peak,
  // the dense product's included (what is left to gain, whatever the library).
  const double fma_peak = MeasureFmaGflops(7);
  report.Add({"linear", "fma_peak_fp32", fma_peak, "GFLOP/s", "itself", 1.0, std::nullopt});
  const std::string peak_name = absl::StrFormat("fma_peak_fp32 %.0f GFLOP/s", fma_peak);
  auto add_peak = [&](const std::string& metric, int64_t rows, double seconds) {
    if (rows < 64) return;
    const double gflops = 2.0 * rows * g_size * g_size / seconds / 1e9;
    report.Add({"linear", metric + "/vs_peak", gflops, "GFLOP/s", peak_name, gflops / fma_peak,
                std::nullopt});
  };

  // Dense baselines: BLAS through at::linear, and DenseLinear (llmq's GEMV at one row).
  // rows -> seconds of the best dense product in that dtype: the baseline of the packed
  // cases with activations of the same dtype (a bfloat16 model's dense layers are bfloat16).
  std::map<int64_t, double> best_fp32, best_bf16;
  // The one-row products also against a cold read of as many bytes as the layer streams,
  // on the same threads (BandwidthProbe::ColdReadGBs): a layer of a few MB cannot reach
  // the 1 GiB rate, which amortises the ramp-up of memory parallelism.
  // Measured once per byte count: the fp32 and bf16 cases of a packed layer stream the same
  // bytes.
  std::map<int64_t, double> cold_by_bytes;
  auto add_cold = [&](const std::string& metric, double bytes, double seconds) {
    const int64_t n = static_cast<int64_t>(bytes);
    auto it = cold_by_bytes.find(n);
    if (it == cold_by_bytes.end()) it = cold_by_bytes.emplace(n, probe.ColdReadGBs(n, g_reps)).first;
    const double cold = it->second;
    report.Add({"linear", metric + "/vs_cold_read", bytes / seconds / 1e9, "GB/s",
                absl::StrFormat("cold_read %.1f MB %.1f GB/s", bytes / 1e6, cold),
                bytes / seconds / 1e9 / cold, std::nullopt});
  };
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const std::string dt = dtype == at::kFloat ? "fp32" : "bf16";
    at::manual_seed(0);
    DenseLinear dense((at::randn({g_size, g_size}) * 0.02).to(dtype), at::Tensor());
    const double bytes = static_cast<double>(dense.WeightBytes());
    for (int64_t rows : all_rows) {
      if (g_rows.empty() && dtype == at::kBFloat16 && rows > 1 && rows != 4 && rows != 16 && rows != 128) continue;
      at::Tensor x = at::randn({rows, g_size}).to(dtype);
      const double t_blas = Time([&] { at::linear(x, dense.weight()); });
      const double t_llmq = Time([&] { dense.Forward(x); });
      (dtype == at::kFloat ? best_fp32 : best_bf16)[rows] = std::min(t_blas, t_llmq);
      const std::string m = absl::StrCat("dense_", dt, "/rows=", rows);
      if (rows == 1) {
        report.Add({"linear", m + "/at::linear", t_blas * 1e6, "us", bw_name, bytes / t_blas / 1e9 / bandwidth, std::nullopt});
        report.Add({"linear", m + "/llmq_gemv", t_llmq * 1e6, "us", bw_name, bytes / t_llmq / 1e9 / bandwidth, 0.70});
        if (!g_warm) add_cold(m + "/llmq_gemv", bytes, t_llmq);
      } else {
        report.Add({"linear", m + "/at::linear", t_blas * 1e6, "us", "", 1.0, std::nullopt});
        if (dtype == at::kFloat) add_peak(m + "/at::linear", rows, t_blas);
      }
    }
  }

  const std::vector<Case> cases = {
      {"int4_g128_fp32", 4, 128, false, at::kFloat, all_rows},
      {"int4_g128_bf16", 4, 128, false, at::kBFloat16, {1, 4, 16, 128}},
      {"int4_g128_act_order_fp32", 4, 128, true, at::kFloat, {1, 8}},
      {"int4_g32_fp32", 4, 32, false, at::kFloat, {1, 8}},
      {"int3_g128_fp32", 3, 128, false, at::kFloat, all_rows},
      {"int2_g128_fp32", 2, 128, false, at::kFloat, {1, 8, 128}},
      {"int8_g128_fp32", 8, 128, false, at::kFloat, {1, 8, 128, 512}},
  };
  for (const Case& c : cases) {
    if (c.name.find(g_filter) == std::string::npos) continue;
    std::unique_ptr<QuantizedLinear> layer = Packed(c.bits, c.group_size, c.act_order, c.dtype);
    const double bytes = static_cast<double>(layer->WeightBytes());
    for (int64_t rows : g_rows.empty() ? c.rows : g_rows) {
      at::Tensor x = at::randn({rows, g_size}).to(c.dtype);
      const double t = Time([&] { layer->Forward(x); });
      const std::string m = absl::StrCat(c.name, "/rows=", rows);
      const bool bf16 = c.dtype == at::kBFloat16;
      const double base = (bf16 ? best_bf16 : best_fp32).at(rows);
      const std::string base_name =
          absl::StrFormat("dense_%s_best %.1f us", bf16 ? "bf16" : "fp32", base * 1e6);
      if (rows == 1) {
        const bool goal = c.bits == 4 && c.group_size == 128 && !c.act_order && c.dtype == at::kFloat;
        report.Add({"linear", m, t * 1e6, "us", bw_name, bytes / t / 1e9 / bandwidth,
                    goal ? std::optional<double>(0.60) : std::nullopt});
        report.Add({"linear", m + "/vs_dense", t * 1e6, "us", base_name, base / t, std::nullopt});
        if (!g_warm) add_cold(m, bytes, t);
      } else {
        const bool goal = c.bits == 4 && c.group_size == 128 && !c.act_order && c.dtype == at::kFloat;
        report.Add({"linear", m, t * 1e6, "us", base_name, base / t,
                    goal ? std::optional<double>(rows <= 16 ? 1.5 : 1.0) : std::nullopt});
        if (!bf16) add_peak(m, rows, t);
      }
    }
  }
  // The 8-bit methods' layers (SmoothQuant W8A8 / LLM.int8(): int8 codes, per-token int8
  // activations, integer accumulation; FP8 E4M3 weights) against the same dense baseline.
  auto run_w8 = [&](const std::string& name, const Linear& layer, const std::vector<int64_t>& w8_rows) {
    if (name.find(g_filter) == std::string::npos) return;
    const double bytes = static_cast<double>(layer.WeightBytes());
    for (int64_t rows : g_rows.empty() ? w8_rows : g_rows) {
      at::Tensor x = at::randn({rows, g_size});
      const double t = Time([&] { layer.Forward(x); });
      const double base = best_fp32.at(rows);
      const std::string m = absl::StrCat(name, "/rows=", rows);
      const std::string base_name = absl::StrFormat("dense_fp32_best %.1f us", base * 1e6);
      if (rows == 1) {
        report.Add({"linear", m, t * 1e6, "us", bw_name, bytes / t / 1e9 / bandwidth, std::nullopt});
        report.Add({"linear", m + "/vs_dense", t * 1e6, "us", base_name, base / t, std::nullopt});
        if (!g_warm) add_cold(m, bytes, t);
      } else {
        report.Add({"linear", m, t * 1e6, "us", base_name, base / t, std::nullopt});
      }
    }
  };
  at::manual_seed(8);
  const at::Tensor w8 = at::randn({g_size, g_size}) * 0.02;
  auto check = [](auto made) {
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(made).value();
  };
  run_w8("w8a8_int8_fp32", *check(Int8Linear::Create(w8, at::Tensor(), Int8Linear::Options(), at::kFloat)),
         {1, 128});
  Int8Linear::Options llm_int8;
  llm_int8.outlier_threshold = 6.0;
  run_w8("llm_int8_fp32", *check(Int8Linear::Create(w8, at::Tensor(), llm_int8, at::kFloat)), {1, 128});
  Fp8Linear::Options fp8;
  run_w8("fp8_e4m3_fp32", *check(Fp8Linear::Create(w8, at::Tensor(), fp8, at::kFloat)), {1, 8, 128, 512});
  fp8.activations = true;
  run_w8("fp8_e4m3_act_fp32", *check(Fp8Linear::Create(w8, at::Tensor(), fp8, at::kFloat)), {1, 128});
  return 0;
}
