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

float Sum(const float* p, int64_t n) {
#ifdef LLMQ_X86_KERNELS
  if (internal::KernelLevel() >= 2) return Sum512(p, n);
  if (internal::KernelLevel() >= 1) return Sum256(p, n);
#endif
  return SumPortable(p, n);
}

}  // namespace

BandwidthProbe::BandwidthProbe(int64_t bytes)
    : n_(std::max<int64_t>(1 << 20, bytes / 4) / 1024 * 1024), data_(new float[n_]) {
  // Touch every page from the threads that will read it (first touch places the pages).
  ParallelFor(0, n_ / 1024, 1, [&](int64_t b0, int64_t b1) {
    std::fill(data_.get() + b0 * 1024, data_.get() + b1 * 1024, 1.0f);
  });
}

double BandwidthProbe::Pass() {
  static volatile float sink = 0;
  const auto start = std::chrono::steady_clock::now();
  // One partial sum per 1024-float block run, summed at the end (chunks run on any thread).
  std::vector<float> partial(n_ / 1024, 0.0f);
  ParallelFor(0, n_ / 1024, 1, [&](int64_t b0, int64_t b1) {
    partial[b0] = Sum(data_.get() + b0 * 1024, (b1 - b0) * 1024);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (float p : partial) sink = sink + p;
  return s;
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

}  // namespace llmq
