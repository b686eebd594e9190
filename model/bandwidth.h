// The machine's memory read bandwidth, measured: the baseline every decode and GEMV
// figure in scripts/bench is a fraction of (and, below it, the float32 FMA peak that the
// many-row products are a fraction of). A streaming float32 sum over a buffer much
// larger than the caches (default 1 GiB, twice the largest L3 we run on), split over all
// of libtorch's threads, vectorised (AVX-512 / AVX2 when the CPU has them).
#ifndef LLMQ_MODEL_BANDWIDTH_H_
#define LLMQ_MODEL_BANDWIDTH_H_

#include <cstdint>
#include <memory>

namespace llmq {

class BandwidthProbe {
 public:
  // Allocates and touches `bytes` (rounded down to 4 KiB blocks, at least 4 MiB).
  explicit BandwidthProbe(int64_t bytes = int64_t{1} << 30);
  // The best of `repeats` passes (after one warm-up), GB/s (1e9 bytes per second); the
  // slowest pass's rate into *slowest when given (how much other load moved it).
  double MeasureGBs(int repeats = 5, double* slowest = nullptr);
  // One pass over the buffer: afterwards what a benchmark reads comes from memory, not
  // from a cache warmed by its previous call (as in a model, whose weights exceed L3).
  void EvictCaches();
  // GB/s of reading `bytes` (a buffer of their own, e.g. the size of one layer's weights)
  // from memory: the best of `repeats` passes, each after EvictCaches(), on the same
  // threads. What a kernel streaming that many bytes from cold caches can at most reach:
  // a read of a few MB pays the ramp-up of memory parallelism that a 1 GiB pass amortises.
  double ColdReadGBs(int64_t bytes, int repeats = 7);

 private:
  double Pass();  // seconds
  int64_t n_;     // floats
  std::unique_ptr<float[]> data_;
};

// The machine's float32 multiply-add peak, measured: GFLOP/s (2 per FMA) of the best of
// `repeats` runs of 12 independent chains of vector FMAs per thread, on all of libtorch's
// threads, with the widest vectors llmq's kernels use on this CPU (AVX-512, else AVX2 FMA,
// else scalar). The compute-bound baseline: a GEMM at N% of it leaves (100 - N)% to gain,
// whatever library it is.
double MeasureFmaGflops(int repeats = 5);

}  // namespace llmq

#endif  // LLMQ_MODEL_BANDWIDTH_H_
