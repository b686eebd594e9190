// This process's resident memory, for peaks that belong to one stage of a job. The
// kernel keeps one high-water mark per process (VmHWM); a job that quantizes and then
// serves the model would otherwise report quantization's peak as the model's. Linux only
// (procfs); elsewhere the peak cannot be reset and reads as getrusage's lifetime maximum.
#ifndef LLMQ_COMMON_MEMORY_H_
#define LLMQ_COMMON_MEMORY_H_

#include <cstdint>

#include "absl/status/status.h"

namespace llmq {

// Resident bytes now (VmRSS); 0 when unknown.
int64_t CurrentRssBytes();

// Memory the kernel estimates can be allocated without swapping (MemAvailable of
// /proc/meminfo: free memory plus reclaimable caches); -1 when unknown.
int64_t AvailableMemoryBytes();

// The resident high-water mark (VmHWM) since the process started or since the last
// successful ResetPeakRss; getrusage's lifetime maximum when procfs is unavailable.
int64_t PeakRssBytes();

// Lowers the high-water mark to the current RSS (writes 5 to /proc/self/clear_refs),
// so PeakRssBytes() from now on measures what comes next. FailedPrecondition where the
// kernel does not allow it (non-Linux, a read-only /proc).
absl::Status ResetPeakRss();

// Hands freed heap memory back to the kernel (glibc: malloc_trim(0), which also releases
// free pages inside the heap, not only its top). ConfigureCpuRuntime keeps up to 512 MiB
// of freed heap on purpose, which after a quantization would still count as resident.
// Returns whether anything was released; a no-op without glibc.
bool ReleaseFreedHeap();

// Takes the pages of loaded code out of this process's RSS: for every private, read-only
// mapping of a file that the process also maps executable (the executable and its shared
// libraries: their text and read-only data) and that holds no copy-on-write page, the
// page-table entries are dropped (madvise MADV_DONTNEED). The pages stay in the page
// cache; code that runs again faults them back in (minor faults) and counts again. So a
// peak measured after ResetPeakRss counts the library code that the next stage runs, not
// what earlier stages ran (loading a packed checkpoint runs ATen operators serving never
// does). Model weights mapped from files are never executable, so they stay. Returns the
// resident bytes dropped; 0 without procfs.
int64_t DropLoadedCodePages();

}  // namespace llmq

#endif  // LLMQ_COMMON_MEMORY_H_
