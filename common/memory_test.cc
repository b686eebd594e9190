#include "common/memory.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/temp_dir.h"

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

// MemAvailable is read (not the -1 of a missed field) and lies within the machine's memory.
TEST(MemoryTest, AvailableMemoryIsWithinPhysicalMemory) {
  const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  const int64_t available = AvailableMemoryBytes();
  EXPECT_GT(available, 16 * kMiB);
  EXPECT_LE(available, physical);
}

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

// Resident KiB of the mappings of `path` (from /proc/self/smaps); -1 without procfs.
int64_t ResidentKibOf(const std::string& path) {
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return -1;
  char line[4096];
  bool inside = false;
  int64_t kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line, "%lx-%lx ", &begin, &end) == 2) {
      inside = std::string(line).find(path) != std::string::npos;
    } else if (long long rss = 0; inside && std::sscanf(line, "Rss: %lld", &rss) == 1) {
      kib += rss;
    }
  }
  std::fclose(f);
  return kib;
}

TEST(MemoryTest, DroppingLoadedCodeKeepsDataMappingsAndWrittenPages) {
  if (ResidentKibOf("[heap]") < 0) GTEST_SKIP() << "no /proc/self/smaps";
  // A data file mapped read-only, every page read: as a model's weights are mapped.
  TempDir dir("llmq_memory_test");
  const std::string path = dir.path() + "/weights.bin";
  const std::vector<char> bytes(8 * kMiB, 3);
  std::FILE* out = std::fopen(path.c_str(), "we");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), out), bytes.size());
  ASSERT_EQ(std::fclose(out), 0);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto* weights = static_cast<const char*>(::mmap(nullptr, bytes.size(), PROT_READ, MAP_PRIVATE, fd, 0));
  ::close(fd);
  ASSERT_NE(weights, MAP_FAILED);
  int64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 4096) sum += weights[i];
  EXPECT_EQ(sum, 3 * static_cast<int64_t>(bytes.size() / 4096));
  EXPECT_EQ(ResidentKibOf(path), 8 * 1024);

  static int written = 0;  // a writable page of this test's own executable
  written = 42;
  const int64_t code_before = ResidentKibOf("libc.so");
  ASSERT_GT(code_before, 0);
  const int64_t rss_before = CurrentRssBytes();

  const int64_t dropped = DropLoadedCodePages();
  // Loaded code left RSS (what runs from here on comes back, so not all of it stays out).
  EXPECT_GT(dropped, 0);
  EXPECT_LT(CurrentRssBytes(), rss_before);
  // Data that is no code: still resident, same bytes; written pages keep what was written.
  EXPECT_EQ(ResidentKibOf(path), 8 * 1024);
  EXPECT_EQ(weights[bytes.size() - 1], 3);
  EXPECT_EQ(written, 42);
  // The code that runs faults back in and works.
  EXPECT_EQ(std::to_string(12345), "12345");
  ::munmap(const_cast<char*>(weights), bytes.size());
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
