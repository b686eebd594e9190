#include "model/runtime.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/mman.h>

#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#ifdef LLMQ_CUDA_ALLOCATOR_STATS
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "common/cpu.h"

namespace llmq {

namespace {

// libtorch's CPU allocations, counted, and the large ones kept for reuse. Each block
// carries a 64-byte header before the data (which keeps the 64-byte alignment libtorch's
// own allocator gives): the tensor's bytes, and for a large block the size of its mapping.
// The DataPtr's context is the data pointer itself, as raw_allocate requires.
//
// Blocks above glibc's mmap threshold (32 MiB, ConfigureCpuRuntime) would each be a fresh
// mapping that the kernel zeroes page by page on first touch, every time: GPTQ on a
// Llama-1B-shaped layer spent ~15 % of its time in page faults on its 64 MiB activations
// and 256 MiB Hessians. So large blocks are mapped here and kept when freed; a request
// takes the smallest kept block that holds it (at most twice its size). The kept blocks
// never raise the footprint above what the live tensors alone reached: before a request
// maps new memory, kept blocks are unmapped until live + kept + new fits under the
// footprint's high-water mark, or none is left (then the mark rises by the new block, as
// it would without the cache).
class CpuTensorAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kHeader = 64;
  // Above glibc's mmap threshold, which ConfigureCpuRuntime sets to this: 32 MiB, its
  // largest on 64-bit.
  static constexpr size_t kLarge = size_t{32} << 20;
  static constexpr size_t kPage = size_t{2} << 20;    // large mappings round to this

  // Both spellings: libtorch 1.13 declares allocate const, 2.x (2.3 on) not; the other one
  // is a plain overload.
  c10::DataPtr allocate(size_t n) const { return Allocate(n); }
  c10::DataPtr allocate(size_t n) { return Allocate(n); }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }
  // Pure virtual in libtorch 2.x; unused (and not virtual) in 1.13.
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

  static int64_t live() { return live_.load(std::memory_order_relaxed); }
  static int64_t peak() { return peak_.load(std::memory_order_relaxed); }
  static void ResetPeak() { peak_.store(live(), std::memory_order_relaxed); }

  static CpuBlockCache CacheState() {
    std::lock_guard<std::mutex> lock(cache_mu_);
    return {static_cast<int64_t>(kept_bytes_), reuses_, mappings_};
  }

  static void ReleaseKept() {
    std::lock_guard<std::mutex> lock(cache_mu_);
    while (!kept_.empty()) UnmapKeptLocked(std::prev(kept_.end()));
    footprint_mark_ = mapped_live_;
  }

 private:
  struct Header {
    size_t bytes;   // the tensor's
    size_t mapped;  // the mapping's, 0 for a malloc'd block
  };

  static c10::DataPtr Allocate(size_t n) {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &Delete, cpu);
    void* block = nullptr;
    if (n + kHeader > kLarge) {
      block = TakeLarge(n + kHeader);
    } else if (::posix_memalign(&block, kHeader, n + kHeader) == 0) {
      static_cast<Header*>(block)->mapped = 0;
    } else {
      block = nullptr;
    }
    TORCH_CHECK(block != nullptr, "CPU allocator: out of memory allocating ", n, " bytes");
    static_cast<Header*>(block)->bytes = n;
    const int64_t now = live_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed) +
                        static_cast<int64_t>(n);
    int64_t seen = peak_.load(std::memory_order_relaxed);
    while (now > seen && !peak_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
    void* data = static_cast<char*>(block) + kHeader;
    return c10::DataPtr(data, data, &Delete, cpu);
  }

  static void Delete(void* data) {
    if (data == nullptr) return;
    void* block = static_cast<char*>(data) - kHeader;
    const Header header = *static_cast<Header*>(block);
    live_.fetch_sub(static_cast<int64_t>(header.bytes), std::memory_order_relaxed);
    if (header.mapped == 0) {
      std::free(block);
      return;
    }
    std::lock_guard<std::mutex> lock(cache_mu_);
    mapped_live_ -= header.mapped;
    kept_.emplace(header.mapped, block);
    kept_bytes_ += header.mapped;
  }

  // A block of at least `need` bytes, its header's `mapped` set; nullptr if mmap fails.
  static void* TakeLarge(size_t need) {
    const size_t size = (need + kPage - 1) / kPage * kPage;
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = kept_.lower_bound(size);
    if (it != kept_.end() && it->first <= 2 * size) {
      void* block = it->second;
      kept_bytes_ -= it->first;
      mapped_live_ += it->first;
      kept_.erase(it);
      ++reuses_;
      return block;
    }
    while (!kept_.empty() && mapped_live_ + kept_bytes_ + size > footprint_mark_) {
      UnmapKeptLocked(std::prev(kept_.end()));  // the largest first: the fewest calls
    }
    void* block = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
    ::madvise(block, size, MADV_HUGEPAGE);  // fewer faults and TLB misses where THP allows
#endif
    static_cast<Header*>(block)->mapped = size;
    mapped_live_ += size;
    footprint_mark_ = std::max(footprint_mark_, mapped_live_ + kept_bytes_);
    ++mappings_;
    return block;
  }

  static void UnmapKeptLocked(std::multimap<size_t, void*>::iterator it) {
    ::munmap(it->second, it->first);
    kept_bytes_ -= it->first;
    kept_.erase(it);
  }

  static std::atomic<int64_t> live_;
  static std::atomic<int64_t> peak_;
  static std::mutex cache_mu_;
  static std::multimap<size_t, void*> kept_;  // mapping size -> block; guarded by cache_mu_
  static size_t kept_bytes_, mapped_live_, footprint_mark_;  // guarded by cache_mu_
  static int64_t reuses_, mappings_;                         // guarded by cache_mu_
};

std::atomic<int64_t> CpuTensorAllocator::live_{0};
std::atomic<int64_t> CpuTensorAllocator::peak_{0};
std::mutex CpuTensorAllocator::cache_mu_;
std::multimap<size_t, void*> CpuTensorAllocator::kept_;
size_t CpuTensorAllocator::kept_bytes_ = 0;
size_t CpuTensorAllocator::mapped_live_ = 0;
size_t CpuTensorAllocator::footprint_mark_ = 0;
int64_t CpuTensorAllocator::reuses_ = 0;
int64_t CpuTensorAllocator::mappings_ = 0;

CpuTensorAllocator cpu_tensor_allocator;
std::atomic<bool> counting_installed{false};

}  // namespace

bool CpuTensorMemory(TensorMemory* memory) {
  if (!counting_installed.load()) return false;
  memory->live_bytes = CpuTensorAllocator::live();
  memory->peak_bytes = CpuTensorAllocator::peak();
  return true;
}

void ResetCpuTensorPeak() { CpuTensorAllocator::ResetPeak(); }

CpuBlockCache CpuBlockCacheState() { return CpuTensorAllocator::CacheState(); }

void ReleaseCpuBlockCache() { CpuTensorAllocator::ReleaseKept(); }

int ConfigureCpuRuntime(int threads) {
  // Priority above the default allocator's (0). Tensors allocated before keep their own
  // deleter, so installing late is safe; they are just not counted.
  if (!counting_installed.exchange(true)) c10::SetCPUAllocator(&cpu_tensor_allocator, 1);
  if (threads <= 0) threads = CoresAvailable();
  at::set_num_threads(threads);
#ifdef __GLIBC__
  // 32 MiB is glibc's largest mmap threshold on 64-bit; bigger tensors come from the
  // allocator's kept mappings (weights are mmapped files anyway). Keep up to 512 MiB of
  // freed heap.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(CpuTensorAllocator::kLarge));
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
  return threads;
}

void FitBlasThreadsToModel(int64_t hidden_size, int threads) {
  using SetThreads = void (*)(int);
  static auto set_threads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_threads == nullptr) return;
  if (threads <= 0) threads = CoresAvailable();
  set_threads(hidden_size < 1024 ? 1 : threads);
}

#ifdef LLMQ_CUDA_ALLOCATOR_STATS
namespace {

// The allocator's index for `device`, initialised: before CUDA's lazy initialisation (no
// tensor on the device yet, as at a job's start) getDeviceStats and resetPeakStats throw
// "Invalid device argument" (measured on torch 2.11 / CUDA 13); an empty tensor on the
// device initialises it, in 1.13 and 2.x alike.
int InitializedCudaIndex(const at::Device& device) {
  at::empty({0}, at::TensorOptions().device(device));
  return device.has_index() ? device.index() : 0;
}

}  // namespace
#endif

bool CudaAllocatorPeak(const at::Device& device, DeviceMemoryPeak* peak) {
#ifdef LLMQ_CUDA_ALLOCATOR_STATS
  if (!device.is_cuda()) return false;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(InitializedCudaIndex(device));
  // Index 0 of each StatArray is the aggregate over pool types (StatType::AGGREGATE).
  peak->allocated_bytes = stats.allocated_bytes[0].peak;
  peak->reserved_bytes = stats.reserved_bytes[0].peak;
  return true;
#else
  (void)device;
  (void)peak;
  return false;
#endif
}

void ResetCudaAllocatorPeak(const at::Device& device) {
#ifdef LLMQ_CUDA_ALLOCATOR_STATS
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(InitializedCudaIndex(device));
  }
#else
  (void)device;
#endif
}

void ReleaseCudaCache(const at::Device& device) {
#ifdef LLMQ_CUDA_ALLOCATOR_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

}  // namespace llmq
