#include "common/memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstring>
#include <vector>

namespace llmq {
namespace {

constexpr int64_t kMiB = 1 << 20;

// Anonymous memory that is resident until unmapped: every page written.
class TouchedMapping {
 public:
  explicit TouchedMapping(int64_t bytes) : bytes_(bytes) {
    data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data_ != MAP_FAILED) std::memset(data_, 1, bytes);
  }
  ~TouchedMapping() {
    if (data_ != MAP_FAILED) ::munmap(data_, bytes_);
  }
  bool ok() const { return data_ != MAP_FAILED; }

 private:
  int64_t bytes_;
  void* data_;
};

TEST(MemoryTest, ResetLowersThePeakToTheCurrentRssAndLaterGrowthCounts) {
  const int64_t before = CurrentRssBytes();
  ASSERT_GT(before, 0) << "no /proc/self/status";
  {
    TouchedMapping big(256 * kMiB);
    ASSERT_TRUE(big.ok());
    EXPECT_GE(CurrentRssBytes(), before + 250 * kMiB);
  }
  // Gone from RSS, still in the high-water mark.
  EXPECT_LT(CurrentRssBytes(), before + 32 * kMiB);
  EXPECT_GE(PeakRssBytes(), before + 250 * kMiB);

  const absl::Status reset = ResetPeakRss();
  if (!reset.ok()) GTEST_SKIP() << reset;  // a kernel without clear_refs
  const int64_t after_reset = PeakRssBytes();
  EXPECT_LT(after_reset, before + 32 * kMiB);
  EXPECT_GE(after_reset, CurrentRssBytes() - 4 * kMiB);

  {
    TouchedMapping smaller(64 * kMiB);
    ASSERT_TRUE(smaller.ok());
  }
  EXPECT_GE(PeakRssBytes(), after_reset + 60 * kMiB);
  EXPECT_LT(PeakRssBytes(), after_reset + 100 * kMiB);
}

#ifdef __GLIBC__
TEST(MemoryTest, ReleasingFreedHeapLowersRssThatMallocKept) {
  // As ConfigureCpuRuntime sets it: glibc keeps up to 512 MiB of freed heap.
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // Blocks below the mmap threshold come from the heap; freed, they stay resident.
  std::vector<char*> blocks;
  for (int i = 0; i < 2048; ++i) {
    char* block = static_cast<char*>(std::malloc(64 << 10));
    ASSERT_NE(block, nullptr);
    std::memset(block, 1, 64 << 10);
    blocks.push_back(block);
  }
  const int64_t full = CurrentRssBytes();
  for (char* block : blocks) std::free(block);
  EXPECT_GT(CurrentRssBytes(), full - 32 * kMiB) << "glibc returned the heap by itself";
  EXPECT_TRUE(ReleaseFreedHeap());
  EXPECT_LT(CurrentRssBytes(), full - 96 * kMiB);
}
#endif

}  // namespace
}  // namespace llmq
