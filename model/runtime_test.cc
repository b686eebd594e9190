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

TEST(CpuBlockCacheTest, LargeBlocksAreReusedWithoutRaisingTheFootprint) {
  ConfigureCpuRuntime(1);
  ReleaseCpuBlockCache();
  const CpuBlockCache start = CpuBlockCacheState();
  EXPECT_EQ(start.kept_bytes, 0);
  void* first = nullptr;
  {
    at::Tensor a = at::empty({16 * kMiB}, at::kFloat);  // 64 MiB: above glibc's mmap threshold
    first = a.data_ptr();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    a.fill_(1.0f);
  }
  CpuBlockCache now = CpuBlockCacheState();
  EXPECT_EQ(now.mappings - start.mappings, 1);
  EXPECT_GE(now.kept_bytes, 64 * kMiB);  // freed, kept
  {
    // The same size again, then a smaller one that the block holds: both reuse it, and
    // its memory works (no tensor owns it twice: the first is gone before the next).
    at::Tensor b = at::empty({16 * kMiB}, at::kFloat);
    EXPECT_EQ(b.data_ptr(), first);
    EXPECT_EQ(CpuBlockCacheState().kept_bytes, 0);
  }
  {
    at::Tensor c = at::full({10 * kMiB}, 3.0f);  // 40 MiB
    EXPECT_EQ(c.data_ptr(), first);
    EXPECT_EQ(c.sum().item<double>(), 30.0 * kMiB);
    TensorMemory counted;
    ASSERT_TRUE(CpuTensorMemory(&counted));
    EXPECT_GE(counted.live_bytes, 40 * kMiB);  // counted as the tensor's bytes, not the block's
  }
  now = CpuBlockCacheState();
  EXPECT_EQ(now.reuses - start.reuses, 2);
  EXPECT_EQ(now.mappings - start.mappings, 1);
  {
    // A request bigger than the kept 64 MiB block: a new mapping, and since live + kept + new would pass the mark
    // (64 MiB, the most ever live), the kept block is unmapped first.
    at::Tensor e = at::empty({40 * kMiB}, at::kFloat);  // 160 MiB
    now = CpuBlockCacheState();
    EXPECT_EQ(now.mappings - start.mappings, 2);
    EXPECT_EQ(now.kept_bytes, 0);
  }
  {
    at::Tensor f = at::empty({40 * kMiB}, at::kFloat);  // reuses the 160 MiB block
    at::Tensor g = at::empty({50 * kMiB}, at::kFloat);  // 200 MiB, with nothing kept: maps
    now = CpuBlockCacheState();
    EXPECT_EQ(now.reuses - start.reuses, 3);
    EXPECT_EQ(now.mappings - start.mappings, 3);
  }
  EXPECT_GE(CpuBlockCacheState().kept_bytes, 360 * kMiB);
  ReleaseCpuBlockCache();
  EXPECT_EQ(CpuBlockCacheState().kept_bytes, 0);
}

}  // namespace
}  // namespace llmq
