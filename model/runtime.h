// Process-wide CPU runtime settings. Binaries call ConfigureCpuRuntime once at start-up
// (the pipeline calls it per job) and FitBlasThreadsToModel once a model is loaded.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>

#include "common/cpu.h"  // CoresAvailable

namespace llmq {

// Sets libtorch's intra-op threads (`threads` <= 0: CoresAvailable()) and glibc's malloc so
// that freed tensor memory is reused instead of returned to the kernel: large temporaries
// (attention scores, logits) otherwise come from fresh mmaps and every forward pays their
// page faults (measured on stories260K perplexity: 1.6 s of 7.5 s in the kernel, ~0 after).
// Returns the thread count set. Idempotent.
int ConfigureCpuRuntime(int threads);

// CPU tensor memory, counted. ConfigureCpuRuntime installs an allocator for libtorch's CPU
// tensors (which also keeps large freed blocks for reuse: CpuBlockCache below) that keeps
// the bytes live and their high-water mark (what the CUDA allocator's
// statistics are on a GPU). Unlike peak RSS, it holds no runtime (libtorch's heap is ~48 MB
// before any model), no library code and no heap fragmentation, so it is the same on every
// run: on stories260K, where 4-bit weights save 0.8 MB, peak RSS moves by 3-4 MB with the
// heap's layout. Tensors on mmapped files (safetensors weights) are not allocations and
// are not counted.
struct TensorMemory {
  int64_t live_bytes = 0;
  int64_t peak_bytes = 0;
};
// False before ConfigureCpuRuntime installed the counting allocator.
bool CpuTensorMemory(TensorMemory* memory);
// Lowers the peak to the bytes live now.
void ResetCpuTensorPeak();

// The same allocator keeps freed blocks above 32 MiB (glibc maps each of those afresh, and
// the kernel zeroes every page of a fresh mapping on first touch) and hands each to a later
// request of between half its size and its size, without ever holding the footprint above what live tensors
// reached (see runtime.cc). What it keeps now, and how often a request reused a kept block
// or mapped a new one.
struct CpuBlockCache {
  int64_t kept_bytes = 0;
  int64_t reuses = 0;
  int64_t mappings = 0;
};
CpuBlockCache CpuBlockCacheState();
// Unmaps every kept block (before resident memory is measured from a clean start).
void ReleaseCpuBlockCache();

// OpenBLAS (Debian's libtorch) runs its own thread pool beside libtorch's OpenMP one; its
// idle workers spin in sched_yield. For models whose GEMMs are small (hidden size below
// 1024) the spinning costs more than the split gains, so BLAS gets one thread; larger
// models get `threads`. Measured on 2 cores: stories260K (hidden 64) perplexity 15.9 s ->
// 7.8 s with one BLAS thread; a Llama-1B-shaped prefill 215 -> 120 tokens/s with one, hence
// the threshold. No-op when the BLAS in use is not OpenBLAS (MKL, cuBLAS on CUDA).
void FitBlasThreadsToModel(int64_t hidden_size, int threads);

// Peak bytes of the CUDA caching allocator on `device` since the last reset: allocated
// (tensors) and reserved (what the allocator holds from the driver). Only in builds against
// a CUDA libtorch (CMake finds c10_cuda and defines LLMQ_CUDA_ALLOCATOR_STATS); false
// otherwise and for non-CUDA devices.
struct DeviceMemoryPeak {
  int64_t allocated_bytes = 0;
  int64_t reserved_bytes = 0;
};
bool CudaAllocatorPeak(const at::Device& device, DeviceMemoryPeak* peak);
// Lowers both peaks to what is allocated and reserved now.
void ResetCudaAllocatorPeak(const at::Device& device);
// Returns the allocator's cached, unused blocks to the driver, so that a reset reserved
// peak starts from what live tensors need rather than from what an earlier stage (a
// quantization's calibration activations) left cached. No-op where CudaAllocatorPeak is.
void ReleaseCudaCache(const at::Device& device);

}  // namespace llmq
