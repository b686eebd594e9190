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
  const double gemm = 2.0 * rows * n * n / best / 1e9;
  std::printf("one thread: FMA peak %.1f GFLOP/s, llmq's GEMM (%ld x %ld x %ld) %.1f GFLOP/s = "
              "%.2f of the peak\n", peak, static_cast<long>(rows), static_cast<long>(n),
              static_cast<long>(n), gemm, gemm / peak);
  EXPECT_GT(peak, 0.0);
  EXPECT_LE(gemm, 1.2 * peak);
}

}  // namespace
}  // namespace llmq
