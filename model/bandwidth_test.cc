// The hardware baselines of scripts/bench against what a real product reaches.
#include "model/bandwidth.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "model/quantized_kernels.h"  // internal::HasAvx512
#include "model/quantized_linear.h"

namespace llmq {
namespace {

// The FMA peak is a ceiling: no product runs above it. Checked against llmq's own float32
// GEMM (the packed layers' prefill path, multiply-adds only, in ParallelFor like the probe)
// on one thread, as the suite runs beside other tests on two cores (OpenBLAS picks its own
// thread count), best of several runs each. That GEMM reaches 0.7-0.8 of the peak on the
// dev machines; a probe that counted twice the lanes it runs, or ran half its chains,
// would read half of that, and fail here by a margin no load makes up.
TEST(BandwidthTest, FmaPeakIsAboveWhatAGemmReaches) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "llmq's own float32 GEMM needs AVX-512";
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  SetFusedKernelForTesting("avx512");  // FMAs: on AMX CPUs the float32 path beats the peak
  const double peak = MeasureFmaGflops(9);
  at::manual_seed(0);
  const int64_t n = 1024, rows = 240;
  auto layer = QuantizedLinear::Create(at::randint(0, 256, {n, n}, at::kLong).to(at::kByte),
                                       at::rand({n, 1}) * 0.01 + 0.001, at::full({n, 1}, 128.0),
                                       at::Tensor(), at::Tensor(), 8, -1, at::kFloat);
  ASSERT_TRUE(layer.ok()) << layer.status();
  ASSERT_NE(QuantizedLinear::CpuKernels(at::kFloat).find("avx512_gemm"), std::string::npos);
  const at::Tensor x = at::randn({rows, n});
  double best = 1e30;
  for (int i = 0; i < 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    (*layer)->Forward(x);
    if (i > 0) best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  at::set_num_threads(threads);
  SetFusedKernelForTesting("");
  const double gemm = 2.0 * rows * n * n / best / 1e9;
  std::printf("one thread: FMA peak %.1f GFLOP/s, llmq's GEMM (%ld x %ld x %ld) %.1f GFLOP/s = "
              "%.2f of the peak\n", peak, static_cast<long>(rows), static_cast<long>(n),
              static_cast<long>(n), gemm, gemm / peak);
  EXPECT_GT(peak, 0.0);
  EXPECT_LE(gemm, 1.2 * peak);
}

// A cold read of one layer's bytes is a read from memory: within a small factor of the
// 1 GiB rate (one pass after the eviction, the ramp-up of a short read costing a little).
// Counting floats as bytes, or reading from the caches that EvictCaches should have
// emptied (4 MB fit any L3 we run on, several times faster than memory), lands outside.
TEST(BandwidthTest, ColdReadOfALayerIsAMemoryRead) {
  BandwidthProbe probe(int64_t{256} << 20);
  const double full = probe.MeasureGBs(3);
  const double cold = probe.ColdReadGBs(int64_t{4} << 20, 5);
  std::printf("256 MB passes %.1f GB/s, 4 MB cold %.1f GB/s\n", full, cold);
  EXPECT_GT(cold, 0.25 * full);
  EXPECT_LT(cold, 2.5 * full);
}

}  // namespace
}  // namespace llmq
