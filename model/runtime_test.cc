#include "model/runtime.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace llmq {
namespace {

constexpr int64_t kMiB = 1 << 20;

TEST(CpuTensorMemoryTest, CountsLiveBytesAndTheirPeakOnceInstalled) {
  ConfigureCpuRuntime(1);
  TensorMemory before;
  ASSERT_TRUE(CpuTensorMemory(&before));
  {
    at::Tensor a = at::empty({kMiB}, at::kFloat);  // 4 MiB
    at::Tensor b = at::zeros({kMiB / 2}, at::kDouble);  // 4 MiB
    TensorMemory both;
    ASSERT_TRUE(CpuTensorMemory(&both));
    EXPECT_EQ(both.live_bytes - before.live_bytes, 8 * kMiB);
    EXPECT_GE(both.peak_bytes, both.live_bytes);
    // The tensors are usable memory: written and read back through the allocator's blocks.
    a.fill_(2.0f);
    EXPECT_EQ(a.sum().item<double>(), 2.0 * kMiB);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data_ptr()) % 64, 0u);
  }
  TensorMemory after;
  ASSERT_TRUE(CpuTensorMemory(&after));
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_GE(after.peak_bytes - before.live_bytes, 8 * kMiB);  // the peak stays ...
  ResetCpuTensorPeak();
  ASSERT_TRUE(CpuTensorMemory(&after));
  EXPECT_EQ(after.peak_bytes, after.live_bytes);  // ... until reset
  {
    at::Tensor c = at::empty({kMiB / 4}, at::kFloat);  // 1 MiB
  }
  ASSERT_TRUE(CpuTensorMemory(&after));
  EXPECT_EQ(after.peak_bytes - after.live_bytes, kMiB);
}

TEST(CpuTensorMemoryTest, ThreadsAllocatingAtOnceBalanceToZero) {
  ConfigureCpuRuntime(2);
  TensorMemory before;
  ASSERT_TRUE(CpuTensorMemory(&before));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 2000; ++i) at::Tensor x = at::empty({1 + i % 97}, at::kFloat);
    });
  }
  for (std::thread& thread : threads) thread.join();
  // And libtorch's own operators (their outputs, their intra-op temporaries) go through it.
  at::Tensor m = at::randn({256, 256});
  at::Tensor product = at::matmul(m, m);
  TensorMemory after;
  ASSERT_TRUE(CpuTensorMemory(&after));
  EXPECT_EQ(after.live_bytes - before.live_bytes, 2 * 256 * 256 * 4);
}

}  // namespace
}  // namespace llmq
