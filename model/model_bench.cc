// Model runtime benchmark, printed as ratios against baselines measured in the same run:
//   prefill: tokens/s of a Llama-3.2-1B-shaped random model over a 2048-token prompt, as a
//            fraction of the GEMM rate of this machine in the same dtype (goal >= 0.70);
//   decode:  tokens/s at batch 1 against the read-bandwidth bound: weight bytes read per
//            token / the read bandwidth measured by model/bandwidth.h (goal >= 0.70).
// Usage: llmq_model_bench [--layers N] [--tokens T] [--threads N] [--dtype float32|bfloat16]
//                         [--decode STEPS] [--json]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bench_report.h"
#include "common/cpu.h"
#include "model/bandwidth.h"
#include "model/bench_models.h"
#include "model/loader.h"
#include "model/runtime.h"
#include "model/transformer.h"

namespace llmq {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Best-of-3 GEMM rate for an (m, k) x (k, n) product in `dtype`, GFLOP/s.
double GemmGflops(int64_t m, int64_t k, int64_t n, at::ScalarType dtype) {
  at::Tensor a = at::randn({m, k}).to(dtype), b = at::randn({n, k}).to(dtype);
  at::linear(a, b);  // warm-up
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    at::linear(a, b);
    best = std::min(best, Seconds(start));
  }
  return 2.0 * m * k * n / best / 1e9;
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  using namespace llmq;
  std::map<std::string, std::string> args = {{"layers", "16"}, {"tokens", "2048"}, {"threads", "0"},
                                             {"dtype", "float32"}, {"decode", "32"}};
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0) {
      args[std::string(argv[i]).substr(2)] = argv[i + 1];
      ++i;
    } else {
      std::fprintf(stderr, "llmq_model_bench: unexpected argument %s\n", argv[i]);
      return 2;
    }
  }
  BenchReporter report(json);
  const int threads = ConfigureCpuRuntime(std::atoi(args["threads"].c_str()));
  auto dtype = ParseDtype(args["dtype"]);
  if (!dtype.ok()) { std::fprintf(stderr, "%s\n", dtype.status().ToString().c_str()); return 2; }

  const ModelConfig c = Llama1BShape(std::atoi(args["layers"].c_str()));
  const int64_t tokens = std::atoi(args["tokens"].c_str());
  FitBlasThreadsToModel(c.hidden_size, threads);

  report.Note(absl::StrFormat("llmq_model_bench: Llama-3.2-1B shape, %d layers, %s, %d threads",
                              c.num_layers, args["dtype"], at::get_num_threads()));
  const auto build_start = Clock::now();
  auto model = RandomLlama1B(c.num_layers, *dtype);
  if (!model.ok()) { std::fprintf(stderr, "%s\n", model.status().ToString().c_str()); return 1; }
  CausalLM& m = **model;
  report.Note(absl::StrFormat("  built %.2f B parameters in %.1f s", m.ParameterCount() / 1e9,
                              Seconds(build_start)));

  // Baselines measured now, on this machine, with these threads.
  const double gemm = GemmGflops(tokens, c.hidden_size, c.intermediate_size, *dtype);
  const double bandwidth = BandwidthProbe().MeasureGBs();
  const std::string dt = args["dtype"];
  report.Add({"model", "read_bandwidth", bandwidth, "GB/s", "itself", 1.0, std::nullopt});
  report.Add({"model", absl::StrFormat("gemm_%dx%dx%d_%s", tokens, c.hidden_size, c.intermediate_size, dt),
              gemm, "GFLOP/s", "itself", 1.0, std::nullopt});

  // Prefill: FLOPs of the block linears and attention (full score matrix, as computed)
  // plus the last position's lm_head.
  int64_t block_linear_params = 0;
  for (const NamedLinear& l : m.Linears()) {
    if (l.layer >= 0) block_linear_params += (*l.slot)->ParameterCount();
  }
  const double attention_flops = 4.0 * c.num_layers * c.num_heads * c.head_dim * static_cast<double>(tokens) * tokens;
  const double flops = 2.0 * block_linear_params * tokens + attention_flops + 2.0 * c.vocab_size * c.hidden_size;
  at::Tensor prompt = at::randint(3, c.vocab_size, {1, tokens}, at::kLong);
  const double prefill_s = PrefillSeconds(m, prompt);
  const double achieved = flops / prefill_s / 1e9;
  report.Add({"model", absl::StrFormat("prefill_%s/tokens=%d", dt, tokens), tokens / prefill_s,
              "tokens/s", absl::StrFormat("gemm %.1f GFLOP/s (%.1f GFLOP/s reached)", gemm, achieved),
              achieved / gemm, 0.70});

  // Decode at batch 1: every step reads all weights once.
  const int64_t steps = std::atoi(args["decode"].c_str());
  const double decode_rate = DecodeTokensPerSecond(m, prompt, steps);
  const double bytes_per_token = static_cast<double>(m.WeightBytes());
  const double bound = bandwidth * 1e9 / bytes_per_token;
  report.Add({"model", absl::StrFormat("decode_%s/batch=1", dt), decode_rate, "tokens/s",
              absl::StrFormat("read_bandwidth bound %.2f tokens/s (%.0f MB/token at %.1f GB/s)", bound,
                              bytes_per_token / 1e6, bandwidth),
              decode_rate / bound, 0.70});
  return 0;
}
