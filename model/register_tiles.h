// The loop the 2..kFusedMaxRows register-tile kernels share (float32 tiles in
// quantized_kernels_x86.cc, bfloat16 ones in quantized_kernels_bf16.cc): four weight rows
// at a time decoded into wt, then 4 x 4 register tiles over the input rows, column chunk by
// column chunk, small enough that the chunk of wt and of every x row stays in L1 while all
// input rows pass over it. Internal to those two files; no intrinsics here, so each file's
// tile and sum functions carry their own target attributes.
#ifndef LLMQ_MODEL_REGISTER_TILES_H_
#define LLMQ_MODEL_REGISTER_TILES_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace llmq {
namespace internal {

// A row stride of at least n elements (of `per_kb` to a KB) whose rows start 1 KB apart
// modulo 4 KB, the period of the L1 set index: rows of a 4096-wide float32 x lie 16 KB
// apart, so all 16 rows' 1 KB chunks fell into the same 16 of 64 sets, more lines than
// ways, and missed L1 on every pass (2048² warm, one thread: 16 rows 2503 -> 2106 us).
inline int64_t SpreadStride(int64_t n, int64_t per_kb) {
  return n + (per_kb + 4 * per_kb - n % (4 * per_kb)) % (4 * per_kb);
}

// y[r, o] (y: rows x out) for output rows [o0, o1) and the `rows` input rows of xs (row
// stride ld, n columns): decode(o, dst) writes weight row o's n columns; tile(nr, wt, x,
// c0, c1, part) adds columns [c0, c1) of nr <= 4 input rows against the 4 rows of wt (both
// of stride ld) to the 4 x nr vectors of 16 partial sums part[(i * 4 + k) * 16 ...];
// sum16(v) adds 16 floats. chunk: columns per pass over the input rows.
template <typename T, typename DecodeRow, typename Tile, typename Sum16>
void RegisterTileRows(int64_t n, int64_t ld, int64_t chunk, int64_t out, const T* xs, int64_t rows,
                      int64_t o0, int64_t o1, DecodeRow&& decode, Tile&& tile, Sum16&& sum16,
                      float* y) {
  std::vector<T> wt(4 * ld);                          // (4, n), row stride ld
  std::vector<float> part((rows + 3) / 4 * 16 * 16);  // (row blocks, 4 x 4, 16)
  for (int64_t o = o0; o < o1; o += 4) {
    const int64_t nb = std::min<int64_t>(4, o1 - o);
    for (int64_t k = 0; k < 4; ++k) {
      if (k < nb) {
        decode(o + k, wt.data() + k * ld);
      } else {
        std::fill(wt.begin() + k * ld, wt.begin() + k * ld + n, T{});
      }
    }
    std::fill(part.begin(), part.end(), 0.0f);
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t c1 = std::min(n, c0 + chunk);
      for (int64_t r = 0; r < rows; r += 4) {
        tile(static_cast<int>(std::min<int64_t>(4, rows - r)), wt.data(), xs + r * ld, c0, c1,
             part.data() + r / 4 * 256);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < nb; ++k) {
        y[r * out + o + k] = sum16(part.data() + (r / 4 * 16 + (r % 4) * 4 + k) * 16);
      }
    }
  }
}

}  // namespace internal
}  // namespace llmq

#endif  // LLMQ_MODEL_REGISTER_TILES_H_
