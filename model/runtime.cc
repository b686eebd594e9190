#include "model/runtime.h"

#include <dlfcn.h>
#include <malloc.h>

#include <ATen/Parallel.h>
#ifdef LLMQ_CUDA_ALLOCATOR_STATS
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <algorithm>

#include "common/cpu.h"

namespace llmq {

int ConfigureCpuRuntime(int threads) {
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
