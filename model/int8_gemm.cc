#include "model/int8_gemm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "model/parallel.h"
#include "model/quantized_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLMQ_X86_VNNI 1
#if defined(__linux__)
#include "model/amx_tiles.h"
#define LLMQ_X86_AMX_INT8 1
#endif
#endif

namespace llmq {
namespace {

constexpr int64_t kRowsPerBlock = 16;  // output rows per packed block (one zmm of int32)
constexpr int64_t kColsPerStep = 4;    // columns per vpdpbusd lane

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Where B[r, c] lives in the packed data.
inline int64_t PackedIndex(int64_t r, int64_t c, int64_t k_steps) {
  return ((r / kRowsPerBlock) * k_steps + c / kColsPerStep) * (kRowsPerBlock * kColsPerStep) +
         (r % kRowsPerBlock) * kColsPerStep + c % kColsPerStep;
}

// A as unsigned bytes a + 128, rows padded to whole 4-column steps (padding meets zero
// weights, so its value does not matter).
std::vector<uint8_t> BiasedActivations(const int8_t* a, int64_t m, int64_t k, int64_t k_padded) {
  std::vector<uint8_t> out(static_cast<size_t>(m * k_padded), 128);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < k; ++c) out[r * k_padded + c] = static_cast<uint8_t>(a[r * k + c]) ^ 0x80;
  }
  return out;
}

void ScalarBlocks(const int8_t* a, int64_t m, int64_t k, const PackedInt8Weights& b, int64_t block0, int64_t block1,
                  int32_t* c) {
  const int64_t k_steps = CeilDiv(k, kColsPerStep);
  const int8_t* w = b.data.data_ptr<int8_t>();
  for (int64_t blk = block0; blk < block1; ++blk) {
    const int64_t r1 = std::min(b.n, (blk + 1) * kRowsPerBlock);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = blk * kRowsPerBlock; r < r1; ++r) {
        int32_t acc = 0;
        for (int64_t col = 0; col < k; ++col) {
          acc += static_cast<int32_t>(a[i * k + col]) * w[PackedIndex(r, col, k_steps)];
        }
        c[i * b.n + r] = acc;
      }
    }
  }
}

#ifdef LLMQ_X86_VNNI
#define LLMQ_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

// R rows of A against one 16-row block of B.
template <int R>
LLMQ_VNNI void VnniRows(const uint8_t* a, int64_t lda, const int8_t* block, int64_t k_steps, const int32_t* sums,
                        int64_t valid, int32_t* c, int64_t ldc) {
  __m512i acc[R];
  for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_si512();
  for (int64_t s = 0; s < k_steps; ++s) {
    const __m512i w = _mm512_loadu_si512(block + s * 64);
    for (int i = 0; i < R; ++i) {
      int32_t four;
      std::memcpy(&four, a + i * lda + s * 4, 4);
      acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(four), w);
    }
  }
  const __mmask16 mask = valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1);
  const __m512i offset = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, sums), 7);  // 128 Σ_k B
  for (int i = 0; i < R; ++i) {
    _mm512_mask_storeu_epi32(c + i * ldc, mask, _mm512_sub_epi32(acc[i], offset));
  }
}

LLMQ_VNNI void VnniBlocks(const uint8_t* a, int64_t m, int64_t k_padded, const PackedInt8Weights& b, int64_t block0,
                          int64_t block1, int32_t* c) {
  const int64_t k_steps = k_padded / kColsPerStep;
  const int8_t* w = b.data.data_ptr<int8_t>();
  const int32_t* sums = b.row_sums.data_ptr<int32_t>();
  for (int64_t blk = block0; blk < block1; ++blk) {
    const int8_t* block = w + blk * k_steps * 64;
    const int64_t r0 = blk * kRowsPerBlock;
    const int64_t valid = std::min(kRowsPerBlock, b.n - r0);
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) VnniRows<8>(a + i * k_padded, k_padded, block, k_steps, sums + r0, valid, c + i * b.n + r0, b.n);
    for (; i + 4 <= m; i += 4) VnniRows<4>(a + i * k_padded, k_padded, block, k_steps, sums + r0, valid, c + i * b.n + r0, b.n);
    for (; i < m; ++i) VnniRows<1>(a + i * k_padded, k_padded, block, k_steps, sums + r0, valid, c + i * b.n + r0, b.n);
  }
}
#endif

#ifdef LLMQ_X86_AMX_INT8
#define LLMQ_AMX_INT8 __attribute__((target("amx-tile,amx-int8,avx512f")))

constexpr int64_t kTileK = 64;  // columns per A tile row; 16 packed steps per B tile

// C (m, n) for blocks [nb0, nb1) of B on the AMX tiles, 32 x 32 outputs at a time in four
// int32 tiles: A tiles are 16 rows of 64 activations (a: m16 rows of kpad bytes, zeros
// past m and k), B tiles 16 steps of one block, each 64 bytes of the packing (16 outputs x
// 4 columns: the tiles' own layout for B), multiplied by TDPBSSD (signed x signed, summed
// exactly in int32). Steps past k come from `tail`, a copy of the last steps of each block
// padded with zeros, so no load reads past the packing.
LLMQ_AMX_INT8 void AmxBlocks(const int8_t* a, int64_t lda, int64_t m, int64_t m16, int64_t kpad,
                             const PackedInt8Weights& b, int64_t nb0, int64_t nb1, int32_t* c) {
  const int64_t k_steps = CeilDiv(b.k, kColsPerStep);
  const int64_t full = k_steps / 16 * kTileK;  // columns whose B tiles lie inside a block
  const int8_t* w = b.data.data_ptr<int8_t>();
  alignas(64) int8_t tail[2][16 * 64];
  alignas(64) int32_t cbuf[4][16 * 16];
  // Rows of A in chunks of about 1 MB, which stay in L2 while the thread's blocks of B
  // pass by (A re-read from L3 for every pair of blocks took 5x the tiles' time).
  const int64_t chunk = std::max<int64_t>(32, (int64_t{1} << 20) / lda / 32 * 32);
  internal::ConfigureTiles16x64();
  for (int64_t mc = 0; mc < m16; mc += chunk) {
    const int64_t mb_end = std::min(m16, mc + chunk) / 16;
    for (int64_t nb = nb0; nb < nb1; nb += 2) {
      const bool two_n = nb + 1 < nb1;
      for (int t = 0; t < (two_n ? 2 : 1) && full < kpad; ++t) {
        const int64_t steps = k_steps - full / kColsPerStep;
        std::memset(tail[t], 0, sizeof(tail[t]));
        std::memcpy(tail[t], w + ((nb + t) * k_steps + full / kColsPerStep) * 64, steps * 64);
      }
      for (int64_t mb = mc / 16; mb < mb_end; mb += 2) {
        const bool two_m = mb + 1 < mb_end;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t kt = 0; kt < kpad; kt += kTileK) {
          const int8_t* b0 = kt < full ? w + (nb * k_steps + kt / kColsPerStep) * 64 : tail[0];
          _tile_loadd(4, a + mb * 16 * lda + kt, lda);
          _tile_loadd(6, b0, 64);
          _tile_dpbssd(0, 4, 6);
          if (two_m) {
            _tile_loadd(5, a + (mb + 1) * 16 * lda + kt, lda);
            _tile_dpbssd(2, 5, 6);
          }
          if (two_n) {
            const int8_t* b1 = kt < full ? w + ((nb + 1) * k_steps + kt / kColsPerStep) * 64 : tail[1];
            _tile_loadd(7, b1, 64);
            _tile_dpbssd(1, 4, 7);
            if (two_m) _tile_dpbssd(3, 5, 7);
          }
        }
        _tile_stored(0, cbuf[0], 64);
        if (two_n) _tile_stored(1, cbuf[1], 64);
        if (two_m) _tile_stored(2, cbuf[2], 64);
        if (two_m && two_n) _tile_stored(3, cbuf[3], 64);
        // Tile t: rows 16 (mb + t / 2) + i, outputs 16 (nb + t % 2) + j.
        for (int t = 0; t < 4; ++t) {
          if ((t % 2 == 1 && !two_n) || (t / 2 == 1 && !two_m)) continue;
          const int64_t n0 = (nb + t % 2) * kRowsPerBlock, cols = std::min<int64_t>(16, b.n - n0);
          for (int64_t i = 0; i < 16; ++i) {
            const int64_t row = (mb + t / 2) * 16 + i;
            if (row >= m) break;
            std::memcpy(c + row * b.n + n0, cbuf[t] + 16 * i, cols * sizeof(int32_t));
          }
        }
      }
    }
  }
  _tile_release();
}
#endif

}  // namespace

bool Int8GemmHasAmx() {
#ifdef LLMQ_X86_AMX_INT8
  return internal::HasAmxInt8();
#else
  return false;
#endif
}

std::string Int8GemmKernels() {
  const std::string one_row = Int8GemmHasVnni() ? "avx512-vnni" : "scalar";
  return Int8GemmHasAmx() ? "amx-int8 from " + std::to_string(kInt8AmxMinRows) + " rows, " + one_row + " for 1"
                          : one_row;
}

int64_t PackedInt8Weights::Bytes() const {
  return (data.defined() ? data.numel() : 0) + (row_sums.defined() ? row_sums.numel() * 4 : 0);
}

bool Int8GemmHasVnni() {
#ifdef LLMQ_X86_VNNI
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}

PackedInt8Weights PackInt8Weights(const at::Tensor& b_in) {
  TORCH_CHECK(b_in.dim() == 2 && b_in.scalar_type() == at::kChar, "PackInt8Weights: expected (n, k) int8");
  const at::Tensor b = b_in.to(at::kCPU).contiguous();
  PackedInt8Weights packed;
  packed.n = b.size(0);
  packed.k = b.size(1);
  const int64_t k_steps = CeilDiv(packed.k, kColsPerStep);
  packed.data = at::zeros({CeilDiv(packed.n, kRowsPerBlock), k_steps, kRowsPerBlock, kColsPerStep}, at::kChar);
  packed.row_sums = b.sum({1}, false, at::kInt).contiguous();
  const int8_t* src = b.data_ptr<int8_t>();
  int8_t* dst = packed.data.data_ptr<int8_t>();
  for (int64_t r = 0; r < packed.n; ++r) {
    for (int64_t c = 0; c < packed.k; ++c) dst[PackedIndex(r, c, k_steps)] = src[r * packed.k + c];
  }
  return packed;
}

at::Tensor UnpackInt8Columns(const PackedInt8Weights& b, const at::Tensor& columns_in) {
  const at::Tensor columns = columns_in.to(at::kCPU, at::kLong).contiguous();
  const int64_t count = columns.numel(), k_steps = CeilDiv(b.k, kColsPerStep);
  at::Tensor out = at::empty({b.n, count}, at::kChar);
  const int64_t* cols = columns.data_ptr<int64_t>();
  const int8_t* w = b.data.data_ptr<int8_t>();
  int8_t* o = out.data_ptr<int8_t>();
  for (int64_t r = 0; r < b.n; ++r) {
    for (int64_t j = 0; j < count; ++j) o[r * count + j] = w[PackedIndex(r, cols[j], k_steps)];
  }
  return out;
}

at::Tensor UnpackInt8Weights(const PackedInt8Weights& b) {
  return UnpackInt8Columns(b, at::arange(b.k, at::kLong));
}

at::Tensor Int8MatMul(const at::Tensor& a_in, const PackedInt8Weights& b, Int8Kernel kernel) {
  TORCH_CHECK(a_in.dim() == 2 && a_in.scalar_type() == at::kChar && a_in.size(1) == b.k,
              "Int8MatMul: expected (m, ", b.k, ") int8 activations");
  const at::Tensor a = a_in.to(at::kCPU).contiguous();
  const int64_t m = a.size(0);
  at::Tensor c = at::empty({m, b.n}, at::kInt);  // (m, n)
  if (m == 0 || b.n == 0) return c;
  const int64_t blocks = CeilDiv(b.n, kRowsPerBlock);
  const bool vnni = kernel != Int8Kernel::kScalar && Int8GemmHasVnni();
  int32_t* cp = c.data_ptr<int32_t>();
#ifdef LLMQ_X86_AMX_INT8
  if ((kernel == Int8Kernel::kAmx || (kernel == Int8Kernel::kAuto && m >= kInt8AmxMinRows)) && Int8GemmHasAmx()) {
    // A's rows 64 bytes longer than the tiles read: rows a multiple of 4 KB apart would all
    // fall into one L1 set.
    const int64_t m16 = CeilDiv(m, 16) * 16, kpad = CeilDiv(b.k, kTileK) * kTileK, lda = kpad + 64;
    std::vector<int8_t> padded(static_cast<size_t>(m16 * lda), 0);
    const int8_t* ap = a.data_ptr<int8_t>();
    for (int64_t r = 0; r < m; ++r) std::memcpy(padded.data() + r * lda, ap + r * b.k, b.k);
    ParallelFor(0, CeilDiv(blocks, 2), 1, [&](int64_t p0, int64_t p1) {
      AmxBlocks(padded.data(), lda, m, m16, kpad, b, 2 * p0, std::min(blocks, 2 * p1), cp);
    });
    return c;
  }
#endif
#ifdef LLMQ_X86_VNNI
  if (vnni) {
    const int64_t k_padded = CeilDiv(b.k, kColsPerStep) * kColsPerStep;
    const std::vector<uint8_t> biased = BiasedActivations(a.data_ptr<int8_t>(), m, b.k, k_padded);
    ParallelFor(0, blocks, 1, [&](int64_t b0, int64_t b1) { VnniBlocks(biased.data(), m, k_padded, b, b0, b1, cp); });
    return c;
  }
#endif
  (void)vnni;
  ParallelFor(0, blocks, 1, [&](int64_t b0, int64_t b1) { ScalarBlocks(a.data_ptr<int8_t>(), m, b.k, b, b0, b1, cp); });
  return c;
}

}  // namespace llmq
