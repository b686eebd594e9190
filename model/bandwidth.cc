#include "model/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "model/parallel.h"
#include "model/quantized_kernels.h"  // internal::KernelLevel

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLMQ_X86_KERNELS 1
#endif

namespace llmq {
namespace {

float SumPortable(const float* p, int64_t n) {
  float acc[8] = {0};
  for (int64_t i = 0; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += p[i + k];
  }
  return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

#ifdef LLMQ_X86_KERNELS
// n a multiple of 64: four independent accumulators, so the loads, not the adds, limit.
__attribute__((target("avx512f"))) float Sum512(const float* p, int64_t n) {
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  for (int64_t i = 0; i + 64 <= n; i += 64) {
    a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
    b = _mm512_add_ps(b, _mm512_loadu_ps(p + i + 16));
    c = _mm512_add_ps(c, _mm512_loadu_ps(p + i + 32));
    d = _mm512_add_ps(d, _mm512_loadu_ps(p + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}
__attribute__((target("avx2"))) float Sum256(const float* p, int64_t n) {
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  for (int64_t i = 0; i + 32 <= n; i += 32) {
    a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
    b = _mm256_add_ps(b, _mm256_loadu_ps(p + i + 8));
    c = _mm256_add_ps(c, _mm256_loadu_ps(p + i + 16));
    d = _mm256_add_ps(d, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float v[8];
  _mm256_store_ps(v, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#endif

#define LLMQ_FMA12(fma)                                                                  \
  a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);          \
  a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);          \
  a8 = fma(a8, m, c); a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c);

#ifdef LLMQ_X86_KERNELS
// `steps` x 12 vector FMAs in 12 independent chains (more than latency x ports on any
// x86 core we run on, so throughput, not latency, limits); returns their sum so that
// none is optimised away.
__attribute__((target("avx512f"))) float Fma512(int64_t steps, float seed) {
  const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-6f);
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2),
         a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5),
         a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8),
         a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
  for (int64_t i = 0; i < steps; ++i) {
    LLMQ_FMA12(_mm512_fmadd_ps)
  }
  const __m512 s = _mm512_add_ps(
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                    _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
      _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) float Fma256(int64_t steps, float seed) {
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-6f);
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2),
         a3 = _mm256_set1_ps(seed + 3), a4 = _mm256_set1_ps(seed + 4), a5 = _mm256_set1_ps(seed + 5),
         a6 = _mm256_set1_ps(seed + 6), a7 = _mm256_set1_ps(seed + 7), a8 = _mm256_set1_ps(seed + 8),
         a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10), a11 = _mm256_set1_ps(seed + 11);
  for (int64_t i = 0; i < steps; ++i) {
    LLMQ_FMA12(_mm256_fmadd_ps)
  }
  const __m256 s = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                    _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
      _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float v[8];
  _mm256_store_ps(v, s);
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#endif

float FmaPortable(int64_t steps, float seed) {
  float a0 = seed, a1 = seed + 1, a2 = seed + 2, a3 = seed + 3, a4 = seed + 4, a5 = seed + 5,
        a6 = seed + 6, a7 = seed + 7, a8 = seed + 8, a9 = seed + 9, a10 = seed + 10, a11 = seed + 11;
  const float m = 0.999f, c = 1e-6f;
  auto fma = [](float a, float b, float d) { return a * b + d; };
  for (int64_t i = 0; i < steps; ++i) {
    LLMQ_FMA12(fma)
  }
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
}
#undef LLMQ_FMA12

// Lanes per vector FMA of the widest kernels on this CPU; Fma: `steps` x 12 of them.
int FmaLanes() {
#ifdef LLMQ_X86_KERNELS
  if (internal::KernelLevel() >= 2) return 16;
  if (internal::KernelLevel() >= 1) return 8;
#endif
  return 1;
}
float Fma(int64_t steps, float seed) {
#ifdef LLMQ_X86_KERNELS
  if (internal::KernelLevel() >= 2) return Fma512(steps, seed);
  if (internal::KernelLevel() >= 1) return Fma256(steps, seed);
#endif
  return FmaPortable(steps, seed);
}

float Sum(const float* p, int64_t n) {
#ifdef LLMQ_X86_KERNELS
  if (internal::KernelLevel() >= 2) return Sum512(p, n);
  if (internal::KernelLevel() >= 1) return Sum256(p, n);
#endif
  return SumPortable(p, n);
}

}  // namespace

namespace {

// Seconds of one parallel sum over data[0, n) (n a multiple of 1024).
double SumPass(const float* data, int64_t n) {
  static volatile float sink = 0;
  const auto start = std::chrono::steady_clock::now();
  // One partial sum per 1024-float block run, summed at the end (chunks run on any thread).
  std::vector<float> partial(n / 1024, 0.0f);
  ParallelFor(0, n / 1024, 1, [&](int64_t b0, int64_t b1) {
    partial[b0] = Sum(data + b0 * 1024, (b1 - b0) * 1024);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (float p : partial) sink = sink + p;
  return s;
}

// A buffer of n floats, every page first touched by the threads that will read it.
std::unique_ptr<float[]> TouchedBuffer(int64_t n) {
  std::unique_ptr<float[]> data(new float[n]);
  ParallelFor(0, n / 1024, 1, [&](int64_t b0, int64_t b1) {
    std::fill(data.get() + b0 * 1024, data.get() + b1 * 1024, 1.0f);
  });
  return data;
}

}  // namespace

BandwidthProbe::BandwidthProbe(int64_t bytes)
    : n_(std::max<int64_t>(1 << 20, bytes / 4) / 1024 * 1024), data_(TouchedBuffer(n_)) {}

double BandwidthProbe::Pass() { return SumPass(data_.get(), n_); }

double BandwidthProbe::ColdReadGBs(int64_t bytes, int repeats) {
  const int64_t n = std::max<int64_t>(1024, (bytes / 4 + 1023) / 1024 * 1024);
  std::unique_ptr<float[]> data = TouchedBuffer(n);
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    EvictCaches();
    best = std::min(best, SumPass(data.get(), n));
  }
  return 4.0 * static_cast<double>(n) / best / 1e9;
}

void BandwidthProbe::EvictCaches() { Pass(); }

double BandwidthProbe::MeasureGBs(int repeats, double* slowest) {
  Pass();  // warm-up
  double best = 1e30, worst = 0;
  for (int i = 0; i < repeats; ++i) {
    const double t = Pass();
    best = std::min(best, t);
    worst = std::max(worst, t);
  }
  if (slowest != nullptr) *slowest = 4.0 * static_cast<double>(n_) / worst / 1e9;
  return 4.0 * static_cast<double>(n_) / best / 1e9;
}

double MeasureFmaGflops(int repeats) {
  static volatile float sink = 0;
  const int threads = ParallelThreads();
  const int64_t steps = int64_t{1} << 22;  // ~50 M vector FMAs per thread: tens of ms
  double best = 1e30;
  for (int r = 0; r <= repeats; ++r) {  // r = 0: warm-up (clocks, the pool's threads)
    std::vector<float> out(threads, 0.0f);
    const auto start = std::chrono::steady_clock::now();
    ParallelFor(0, threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) out[t] = Fma(steps, static_cast<float>(t));
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (float v : out) sink = sink + v;
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * 12 * FmaLanes() * static_cast<double>(steps) * threads / best / 1e9;
}

}  // namespace llmq
