// Storage on 64-byte boundaries for the AMX and AVX-512 kernels (quantized_kernels_bf16.cc,
// fused_attention.cc): a tile's rows are 64 bytes, and from malloc's 16-byte alignment every
// row of every tile load straddled two cache lines (4096 x 4096 int4 g128 cold, 2 threads,
// float32 128 / 512 rows: 12.6 / 49.5 -> 7.1 / 26 ms; bfloat16 6.9 / 17 -> 3.9 / 14.2 ms).
#ifndef LLMQ_MODEL_ALIGNED_H_
#define LLMQ_MODEL_ALIGNED_H_

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace llmq {
namespace internal {

inline int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// n elements of T, uninitialised, for one call's fixed-size buffers.
template <typename T>
struct AlignedBuffer {
  explicit AlignedBuffer(int64_t n)
      : p(static_cast<T*>(std::aligned_alloc(64, static_cast<size_t>(RoundUp(n * sizeof(T), 64))))) {}
  ~AlignedBuffer() { std::free(p); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  T* data() const { return p; }
  T* p;
};

// An allocator for vectors that grow (value-initialised, as any std::vector).
template <typename T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <typename U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) {
    void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const Aligned64&) const { return true; }
  bool operator!=(const Aligned64&) const { return false; }
};
template <typename T>
using AlignedVector = std::vector<T, Aligned64<T>>;

}  // namespace internal
}  // namespace llmq

#endif  // LLMQ_MODEL_ALIGNED_H_
