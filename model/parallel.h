// llmq's own intra-op thread pool for its CPU kernels (packed and dense GEMVs, dequantization,
// int8 and fp8 products, GPTQ blocks, the bandwidth probe).
//
// Why not at::parallel_for: in libtorch's OpenMP builds (Debian's and PyPI's) it is a
// `#pragma omp parallel` inlined into the caller, so code compiled without -fopenmp (llmq)
// runs it on one thread whatever at::set_num_threads says; and compiling llmq with -fopenmp
// would bring a second OpenMP runtime (PyPI torch ships its own libgomp) whose spinning
// workers fight BLAS's threads for the cores (measured on 2 cores: 64-128-row products
// 0.40-0.58x dense). This pool's workers spin briefly, then sleep; the caller works too
// and takes any chunk a worker has not claimed yet, so a descheduled worker delays nothing.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace llmq {

// The threads ParallelFor uses: libtorch's intra-op thread count (at::get_num_threads(),
// which ConfigureCpuRuntime and the benchmarks set), the caller included.
int ParallelThreads();

namespace internal {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
// True when ParallelFor over `range` with `grain` runs on the calling thread alone.
bool RunsSerially(int64_t range, int64_t grain);
void ParallelForImpl(int64_t begin, int64_t end, int64_t grain, ChunkFn fn, void* ctx);
}  // namespace internal

// Calls fn(b, e) on disjoint chunks covering [begin, end), each at least `grain` long (the
// last may be shorter), on up to ParallelThreads() threads; returns when all are done. Runs
// serially when the range is one chunk, on one thread, or when called from inside a chunk
// (nested). The first exception a chunk throws is rethrown here after all chunks finish.
template <typename F>
void ParallelFor(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  if (end <= begin) return;
  if (internal::RunsSerially(end - begin, grain)) {
    fn(begin, end);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  internal::ParallelForImpl(
      begin, end, grain,
      [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace llmq
