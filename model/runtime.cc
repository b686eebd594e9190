#include "model/runtime.h"

#include <dlfcn.h>
#include <malloc.h>

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

#include "common/cpu.h"

namespace llmq {

namespace {

// libtorch's CPU allocations, counted. Each block carries its size in a 64-byte header
// before the data (which keeps the 64-byte alignment libtorch's own allocator gives); the
// DataPtr's context is the data pointer itself, as raw_allocate requires.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kHeader = 64;

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

 private:
  static c10::DataPtr Allocate(size_t n) {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &Delete, cpu);
    void* block = nullptr;
    if (::posix_memalign(&block, kHeader, n + kHeader) != 0) {
      TORCH_CHECK(false, "CPU allocator: out of memory allocating ", n, " bytes");
    }
    *static_cast<size_t*>(block) = n;
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
    live_.fetch_sub(static_cast<int64_t>(*static_cast<size_t*>(block)), std::memory_order_relaxed);
    std::free(block);
  }

  static std::atomic<int64_t> live_;
  static std::atomic<int64_t> peak_;
};

std::atomic<int64_t> CountingCpuAllocator::live_{0};
std::atomic<int64_t> CountingCpuAllocator::peak_{0};

CountingCpuAllocator counting_cpu_allocator;
std::atomic<bool> counting_installed{false};

}  // namespace

bool CpuTensorMemory(TensorMemory* memory) {
  if (!counting_installed.load()) return false;
  memory->live_bytes = CountingCpuAllocator::live();
  memory->peak_bytes = CountingCpuAllocator::peak();
  return true;
}

void ResetCpuTensorPeak() { CountingCpuAllocator::ResetPeak(); }

int ConfigureCpuRuntime(int threads) {
  // Priority above the default allocator's (0). Tensors allocated before keep their own
  // deleter, so installing late is safe; they are just not counted.
  if (!counting_installed.exchange(true)) c10::SetCPUAllocator(&counting_cpu_allocator, 1);
  if (threads <= 0) threads = CoresAvailable();
  at::set_num_threads(threads);
#ifdef __GLIBC__
  // 32 MiB is glibc's largest mmap threshold on 64-bit; bigger blocks (weights are mmapped
  // files anyway) still get their own mapping. Keep up to 512 MiB of freed heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
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
