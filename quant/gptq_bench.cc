// GPTQ on one linear as a fraction of the GEMM roofline measured in the same run.
//
//   llmq_gptq_bench [--threads=2] [--size=4096] [--samples=128] [--seq=2048] [--bits=4]
//                   [--group=128]
//
// Times (1) the Hessian accumulation over samples x seq calibration tokens, one
// HessianAccumulator::Add per sample (input generation not timed), and (2) GptqQuantize
// of a size x size weight. Counts the floating-point work of the Hessian (2·n·in²) and of
// GPTQ's updates (in-block 2·out per later column of the block, lazy 2·out·count·rest per
// block) — not the factorisation of H, whose time counts all the same — and divides it by
// the fp32 at::matmul rate measured here on a (size x seq) · (seq x size) product:
// fraction = (FLOPs / matmul rate) / measured time; the goal is >= 50 %.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/cpu.h"
#include "quant/gptq.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// fp32 GEMM rate (FLOP/s) on the Hessian's shape: best of `repeats`.
double MatmulRate(int64_t size, int64_t seq, int repeats) {
  at::Tensor a = at::randn({size, seq});  // (in, tokens): xᵀ
  at::Tensor b = at::randn({seq, size});  // (tokens, in)
  at::Tensor c = at::matmul(a, b);        // warm-up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    c = at::matmul(a, b);
    best = std::min(best, Seconds(start));
  }
  return 2.0 * static_cast<double>(size) * seq * size / best;
}

double GptqUpdateFlops(int64_t out, int64_t in, int64_t block) {
  double flops = 0;
  for (int64_t i1 = 0; i1 < in; i1 += block) {
    const int64_t count = std::min(block, in - i1), rest = in - i1 - count;
    flops += 2.0 * out * count * rest;                                    // lazy update
    flops += 2.0 * out * (static_cast<double>(count) * (count - 1) / 2);  // in-block updates
  }
  return flops;
}

}  // namespace

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  int threads = 2, bits = 4;
  int64_t size = 4096, samples = 128, seq = 2048, group = 128;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return std::strncmp(argv[i], flag, n) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--threads="))
      threads = std::atoi(v);
    else if (const char* v = value("--size="))
      size = std::atoll(v);
    else if (const char* v = value("--samples="))
      samples = std::atoll(v);
    else if (const char* v = value("--seq="))
      seq = std::atoll(v);
    else if (const char* v = value("--bits="))
      bits = std::atoi(v);
    else if (const char* v = value("--group="))
      group = std::atoll(v);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  std::printf(
      "gptq bench: weight %lld x %lld, %lld x %lld calibration tokens, %d-bit g%lld, "
      "at::get_num_threads()=%d\n",
      (long long)size, (long long)size, (long long)samples, (long long)seq, bits, (long long)group,
      at::get_num_threads());

  const double rate = MatmulRate(size, seq, 3);
  std::printf("roofline: fp32 at::matmul (%lld x %lld)·(%lld x %lld) %.1f GFLOP/s\n",
              (long long)size, (long long)seq, (long long)seq, (long long)size, rate / 1e9);

  // Correlated inputs: a shared low-rank component plus noise, per sample.
  at::Tensor mix = at::randn({64, size}) / 8.0;  // (64, in)
  llmq::HessianAccumulator acc(size, at::kFloat, at::kCPU);
  double hessian_seconds = 0;
  for (int64_t s = 0; s < samples; ++s) {
    at::Tensor x = at::randn({seq, size}).addmm_(at::randn({seq, 64}), mix);  // (seq, in)
    const auto start = Clock::now();
    acc.Add(x);
    hessian_seconds += Seconds(start);
  }
  const double hessian_flops = 2.0 * static_cast<double>(samples) * seq * size * size;

  at::Tensor w = at::randn({size, size}) * 0.02;  // (out, in)
  llmq::GptqOptions options;
  options.spec = {bits, group, false};
  const auto start = Clock::now();
  auto result = llmq::GptqQuantize(w, acc.Hessian(), options, "bench");
  const double gptq_seconds = Seconds(start);
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    return 1;
  }
  const double gptq_flops = GptqUpdateFlops(size, size, options.block_size);

  auto line = [&](const char* what, double flops, double seconds) {
    std::printf("  %-18s %8.2f s  %9.1f GFLOP  %7.1f GFLOP/s  %5.1f %% of roofline\n", what,
                seconds, flops / 1e9, flops / seconds / 1e9, 100.0 * flops / rate / seconds);
  };
  line("hessian", hessian_flops, hessian_seconds);
  line("gptq", gptq_flops, gptq_seconds);
  std::printf("    (factorisation %.2f s, column loop + lazy updates %.2f s, rest %.2f s)\n",
              result->stats.factor_seconds, result->stats.columns_seconds,
              gptq_seconds - result->stats.factor_seconds - result->stats.columns_seconds);
  line("total", hessian_flops + gptq_flops, hessian_seconds + gptq_seconds);
  const double fraction = (hessian_flops + gptq_flops) / rate / (hessian_seconds + gptq_seconds);
  std::printf("fraction of GEMM roofline: %.1f %% (goal >= 50 %%) damp_final=%g loss=%.4g\n",
              100.0 * fraction, result->stats.damp_final, result->stats.loss);
  return 0;
}
