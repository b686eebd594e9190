// The packed-weight kernels on the CPU's bfloat16 units, for CPUs that have them (cpuid,
// and for AMX Linux's permission for the tile data, asked once per process); elsewhere
// they decline and the float32 kernels (quantized_kernels_x86.cc) run instead. The build
// targets baseline x86-64: each function carries its own target attribute and runs only
// after those checks. Both round x and W to bfloat16 the same way: x once per call,
//   W[o, c] = bf16(s[o, g] * (q[o, c] - z[o, g]))
// (the float32 weight DequantizeRows computes, rounded to nearest even), and sum the
// products in float32.
//
// Several input rows (AMX, TDPBF16PS): y^T = W x^T, tile by tile. W is the A operand (16
// output rows x 32 columns, row-major, as dequantized) and x the B operand, which AMX
// wants in pairs of columns ("VNNI"):
//   xv[m / 16][k / 2][m % 16] = (bf16(x[m, k]), bf16(x[m, k + 1]))   (one 32-bit word)
// (rows padded to 16, columns to 32 with zeros), made by 16 x 16 transposes. Each thread
// takes blocks of kAmxBlock output rows (or, for a layer of few blocks, a share of the
// input rows), dequantizes a block once, then, per 512 input rows, per chunk of columns,
// per 32 input rows and 32 output rows, sums 2 x 2 accumulator tiles over the chunk and
// adds them into float32 sums that go to y by transposes (AmxRowsChunked). Every buffer a
// tile is loaded from starts on 64 bytes. The same loop serves float32 activations, with
// x split in three parts (below).

// One input row: 2-, 3- and 4-bit codes in groups of a multiple of 128 columns go to the
// float32 table kernel with its weights and x rounded to bfloat16 (TableGemvBf16Avx512:
// the same products, exact in float32; a cold 4096 x 4096 int4 g128 row on a 2-core Xeon
// took 740-750 us here with VDPBF16PS and a VPERMW table, 510 there). Other widths up to 5
// bits and groups in 32s (AVX512-BF16, VDPBF16PS; wider ones stay on the float32
// kernels): per group a table of the 2^bits weights s (k - z) in bfloat16, looked up by
// the codes with one VPERMW per 32 codes, unpacked 32 at a time with one byte permutation
// and one shift (AVX512-VBMI, where the CPU has it, for widths up to 5 and columns and
// groups in 32s; else through bytes: 8-bit codes are bytes already, and their conversion
// measured slower through 16-bit lanes). The AMX path's dequantization unpacks the same way.

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "model/aligned.h"
#include "model/packing.h"
#include "model/parallel.h"
#include "model/quantized_kernels.h"
#include "model/register_tiles.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "model/amx_tiles.h"
#include "model/transpose16.h"
#define LLMQ_AMX_KERNELS 1
#endif

namespace llmq {
namespace internal {

#ifdef LLMQ_AMX_KERNELS

namespace {

// Linux (arch/x86/include/uapi/asm/prctl.h): ask for the AMX tile data state.
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtileData = 18;

bool CpuHasAvx512Bf16() {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx2") ||
      !__builtin_cpu_supports("bmi2")) {
    return false;
  }
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return ((a >> 5) & 1) != 0;
}

bool CpuAndOsHaveAmxBf16() {
  if (!CpuHasAvx512Bf16()) return false;  // the conversions
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (((d >> 22) & 1) == 0 || ((d >> 24) & 1) == 0) return false;  // AMX-BF16, AMX-TILE
  // The kernel enables the tile state per process on request; it refuses when the OS
  // or the hypervisor does not support it.
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
}

#define LLMQ_AMX                                                                              \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,avx512vbmi,avx2,fma,bmi2"), \
                 optimize("O3")))

// 16 floats -> 16 bfloat16 (round to nearest even), masked store.
LLMQ_AMX inline void StoreBf16(uint16_t* out, __mmask16 m, __m512 v) {
  const __m256bh h = _mm512_cvtneps_pbh(v);
  _mm256_mask_storeu_epi16(out, m, (__m256i)h);
}

bool CpuHasVbmi() { return __builtin_cpu_supports("avx512vbmi"); }

// Unpacking 32 codes of `bits` bits (4 * bits bytes, starting at a byte) into one 16-bit
// lane each, in column order, with one byte permutation (VBMI) and one shift per lane:
// code i sits in bytes bits*i/8 and the next, from bit bits*i%8.
struct CodeUnpacker {
  __m512i byte_index, shift, field;
  __mmask32 load;
};

LLMQ_AMX CodeUnpacker MakeUnpacker(int bits) {
  alignas(64) uint8_t index[64];
  alignas(64) uint16_t shift[32];
  for (int i = 0; i < 32; ++i) {
    index[2 * i] = static_cast<uint8_t>(bits * i / 8);
    index[2 * i + 1] = static_cast<uint8_t>(bits * i / 8 + 1);
    shift[i] = static_cast<uint16_t>(bits * i % 8);
  }
  CodeUnpacker u;
  u.byte_index = _mm512_load_si512(index);
  u.shift = _mm512_load_si512(shift);
  u.field = _mm512_set1_epi16(static_cast<int16_t>((1 << bits) - 1));
  u.load = bits >= 8 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << (4 * bits)) - 1);
  return u;
}

// Codes 32j .. 32j + 31 of a packed row (reads only their 4 * bits bytes).
LLMQ_AMX inline __m512i Codes32(const CodeUnpacker& u, const uint8_t* row, int bits, int64_t j) {
  const __m512i v = _mm512_zextsi256_si512(_mm256_maskz_loadu_epi8(u.load, row + j * 4 * bits));
  return _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi8(u.byte_index, v), u.shift), u.field);
}

// The bfloat16 weights s (k - z) for codes k < 32 (table[k], 16-bit words).
LLMQ_AMX inline __m512i WeightTable(float s, int z) {
  const __m512 k = _mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 vz = _mm512_set1_ps(static_cast<float>(z)), vs = _mm512_set1_ps(s);
  const __m512 lo = _mm512_mul_ps(_mm512_sub_ps(k, vz), vs);
  const __m512 hi = _mm512_mul_ps(_mm512_sub_ps(_mm512_add_ps(k, _mm512_set1_ps(16)), vz), vs);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// Row o of W in bfloat16 into out[0, kpad) with the VBMI unpacker: widths up to 5, groups
// of a multiple of 32 columns (or one), in % 32 == 0.
LLMQ_AMX void DequantizeRowBf16Vbmi(const PackedWeights& w, const CodeUnpacker& u, int64_t o,
                                    int64_t kpad, uint8_t* zbuf, uint16_t* out, bool unscaled = false) {
  const uint8_t* row = w.codes + o * w.code_row_bytes;
  UnpackCodesX86(w.zeros + o * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups, zbuf);
  const c10::Half* srow = w.scales + o * w.groups;
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
    const float s = unscaled ? 1.0f : static_cast<float>(srow[g]);
    const __m512i table = WeightTable(s, zbuf[g]);
    for (int64_t c = c0; c < c1; c += 32) {
      if (c % 128 == 0) {  // 128 codes: at most 64 bytes, one line
        const char* p = reinterpret_cast<const char*>(row + c / 8 * w.bits);
        _mm_prefetch(p + kRowPrefetch, _MM_HINT_T0);
        _mm_prefetch(p + kRowPrefetchL2, _MM_HINT_T1);
      }
      _mm512_storeu_si512(out + c, _mm512_permutexvar_epi16(Codes32(u, row, w.bits, c / 32), table));
    }
  }
  std::fill(out + w.in, out + kpad, uint16_t{0});
}

// Row o of W in bfloat16 into out[0, kpad) (zeros from `in` on).
LLMQ_AMX void DequantizeRowBf16(const PackedWeights& w, int64_t o, int64_t kpad, uint8_t* qbuf,
                                uint8_t* zbuf, uint16_t* out, bool unscaled = false) {
  const uint8_t* q = w.codes + o * w.code_row_bytes;
  if (w.bits != 8) {
    UnpackCodesX86(q, w.code_row_bytes, w.bits, w.in, qbuf);
    q = qbuf;
  }
  UnpackCodesX86(w.zeros + o * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups, zbuf);
  const c10::Half* srow = w.scales + o * w.groups;
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
    const __m512i zv = _mm512_set1_epi32(zbuf[g]);
    const __m512 vs = _mm512_set1_ps(unscaled ? 1.0f : static_cast<float>(srow[g]));
    int64_t c = c0;
    for (; c + 16 <= c1; c += 16) {
      const __m512i qi = _mm512_sub_epi32(
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c))), zv);
      StoreBf16(out + c, 0xFFFF, _mm512_mul_ps(_mm512_cvtepi32_ps(qi), vs));
    }
    if (c < c1) {
      const __mmask16 m = static_cast<__mmask16>((1u << (c1 - c)) - 1);
      const __m512i qi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, q + c)), zv);
      StoreBf16(out + c, m, _mm512_mul_ps(_mm512_cvtepi32_ps(qi), vs));
    }
  }
  std::fill(out + w.in, out + kpad, uint16_t{0});
}


// --- float32 inputs on AMX: x split into three bfloat16 parts ---------------------------
//
// For float32 activations the tiles multiply exactly: x = h + m + l with h = bf16(x),
// m = bf16(x - h), l = bf16(x - h - m) (each difference exact in float32; the three parts
// carry x's 24 significant bits, x itself wherever |x| >= 2^-102, since VCVTNEPS2BF16
// makes subnormal parts zeros), and W's tiles hold q - z, integers of at most 8 bits, exact
// in bfloat16. Every product (q - z) * part is exact in float32, TDPBF16PS sums them in
// float32, and the group's sum is scaled once by s:
//   y[m, o] = sum_g s[o, g] * sum_{c in g} (q[o, c] - z[o, g]) (h + m + l)[m, c]
// -- the float32 kernels' formula, with their rounding: only the order of the float32 sums
// differs. Three TDPBF16PS per product instead of one: x's three parts share each
// weight tile. The chunks are at most 128 columns within a group, each chunk's sums added
// times each output row's scale (so a chunk's three x parts, 24 KB per 32 input rows,
// stay in L1). Measured on a 2-core Xeon with AMX, 4096 x 4096 int4 g128 cold against the
// dense float32 product (OpenBLAS): 2 rows 3.5-3.7x, 16 rows 3.7-4.3x, 128 rows 2.6-2.7x,
// 512 rows 2.1-2.3x; per core the tiles run at about a third of their peak there (a
// drain per 48 TDPBF16PS at every chunk's end: chunks of whole rows made the bfloat16
// path 25% faster).
constexpr int64_t kSplitChunk = 128;  // columns per chunk of the split (within a group)
// Both AMX paths: output rows dequantized per block (128 rows of a 4096-wide layer in
// bfloat16: 1 MB, in L2; 64, 256 and 512 measured slower), input rows per pass.
constexpr int64_t kAmxBlock = 128;
constexpr int64_t kAmxRows = 512;

// bfloat16 -> float32, exact.
LLMQ_AMX inline __m512 WidenBf16(__m256bh b) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)b), 16));
}

// Input rows 16 mb .. 16 mb + 15 of x (rows, in) in the VNNI layout (see the top of the
// file), split into kParts bfloat16 parts that sum to x (one part: x rounded): per 32
// columns, each row's 16 column pairs are one vector of words, and a 16 x 16 transpose
// makes the 1 KB B tile, stored in one piece. Rows from `rows` on and columns from `in`
// on are zeros.
template <int kParts>
LLMQ_AMX void ConvertBlockVnni(const float* x, int64_t in, int64_t kpad, int64_t rows, int64_t mb,
                               uint32_t* const* out) {
  const int64_t block = mb * (kpad / 2) * 16;
  for (int64_t k = 0; k < kpad; k += 32) {
    const int64_t left = std::max<int64_t>(0, std::min<int64_t>(32, in - k));
    const __mmask16 lo = static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
    const __mmask16 hi = static_cast<__mmask16>(left >= 32 ? 0xFFFF : left <= 16 ? 0 : (1u << (left - 16)) - 1);
    __m512 part[kParts][16];
    for (int i = 0; i < 16; ++i) {
      const int64_t m = mb * 16 + i;
      __m512 a = _mm512_setzero_ps(), b = a;
      if (m < rows) {
        a = _mm512_maskz_loadu_ps(lo, x + m * in + k);
        b = _mm512_maskz_loadu_ps(hi, x + m * in + k + 16);
      }
      for (int p = 0; p < kParts; ++p) {
        const __m256bh pa = _mm512_cvtneps_pbh(a), pb = _mm512_cvtneps_pbh(b);
        part[p][i] = _mm512_castsi512_ps(_mm512_inserti64x4(_mm512_castsi256_si512((__m256i)pa), (__m256i)pb, 1));
        if (p + 1 < kParts) {
          a = _mm512_sub_ps(a, WidenBf16(pa));
          b = _mm512_sub_ps(b, WidenBf16(pb));
        }
      }
    }
    for (int p = 0; p < kParts; ++p) {
      Transpose16x16(part[p], part[p]);
      float* dst = reinterpret_cast<float*>(out[p] + block + k / 2 * 16);
      for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + 16 * j, part[p][j]);
    }
  }
}

// x (rows, in) as kParts VNNI buffers, threads taking blocks of 16 rows.
// (Every word is written: no zeroing first.)
template <int kParts>
std::unique_ptr<AlignedBuffer<uint32_t>> ConvertVnni(const float* x, int64_t in, int64_t kpad, int64_t rows,
                                                     uint32_t** parts) {
  const int64_t mblocks = (rows + 15) / 16;
  const int64_t words = mblocks * (kpad / 2) * 16;
  auto xv = std::make_unique<AlignedBuffer<uint32_t>>(kParts * words);
  for (int p = 0; p < kParts; ++p) parts[p] = xv->data() + p * words;
  ParallelFor(0, mblocks, std::max<int64_t>(1, (int64_t{1} << 16) / (16 * kpad)), [&](int64_t b0, int64_t b1) {
    for (int64_t mb = b0; mb < b1; ++mb) ConvertBlockVnni<kParts>(x, in, kpad, rows, mb, parts);
  });
  return xv;
}

// What the tiles multiply x by, one weight row at a time: `out` rows in `groups` groups of
// `group_size` columns; Fill(o, kpad, dst, scales) writes row o's kpad bfloat16 words
// (zeros past the last column) and, for the split, its groups' scales, by which each
// chunk's sums are multiplied. A packed layer's rows: q - z (exact) for the split, else
// s (q - z) rounded to bfloat16 (no scales).
struct PackedTileRows {
  LLMQ_AMX PackedTileRows(const PackedWeights& weights, bool split_x)
      : w(weights), split(split_x), out(w.out), groups(w.groups), group_size(w.group_size),
        vbmi(CpuHasVbmi() && w.bits <= 5 && w.in % 32 == 0 && (w.groups == 1 || w.group_size % 32 == 0)),
        unpacker(MakeUnpacker(w.bits)), qbuf(w.in + 64), zbuf(w.groups + 64) {}
  LLMQ_AMX void Fill(int64_t o, int64_t kpad, uint16_t* dst, float* scales) {
    if (vbmi) {
      DequantizeRowBf16Vbmi(w, unpacker, o, kpad, zbuf.data(), dst, split);
    } else {
      DequantizeRowBf16(w, o, kpad, qbuf.data(), zbuf.data(), dst, split);
    }
    if (split) HalfToFloat512(w.scales + o * w.groups, w.groups, scales);
  }
  const PackedWeights& w;
  const bool split;
  const int64_t out, groups, group_size;
  const bool vbmi;
  const CodeUnpacker unpacker;
  std::vector<uint8_t> qbuf, zbuf;
};

// An FP8 layer's rows (split only): decode(code) / f, exact in bfloat16, and one group
// whose scale is the row's scale times f.
struct Fp8TileRows {
  explicit Fp8TileRows(const Fp8Weights& weights) : w(weights), out(w.out), group_size(w.in) {}
  void Fill(int64_t o, int64_t kpad, uint16_t* dst, float* scales) const {
    scales[0] = Fp8RowToBf16(w, o, kpad, dst);
  }
  const Fp8Weights& w;
  const int64_t out, groups = 1, group_size;
};

// y[m, o] for input rows [m0, m1) (m0 a multiple of 16) and output rows [o0, o1) of W
// (`wrows`, a PackedTileRows or Fp8TileRows), from x in kParts VNNI buffers (xp, all rows):
// three, the split of float32 x against W's exact tiles, each chunk's sums times its
// group's scale; one, x rounded against W rounded (MatmulBf16), the sums added as they are.
template <int kParts, typename TileRows>
LLMQ_AMX void AmxRowsChunked(TileRows& wrows, const uint32_t* const* xp, int64_t m0, int64_t m1,
                             int64_t kpad, int64_t o0, int64_t o1, float* y) {
  constexpr bool kSplit = kParts == 3;
  // Columns summed in the tiles before the sums go to memory: split, at most 128 within a
  // group (one scale each); rounded, the whole row (4096 x 4096 int4 bfloat16, 128 / 512
  // rows: chunks of 128 3.8-4.3 / 14.3-14.8 ms, 256 3.9 / 12.2, whole rows 3.6 / 11.3).
  const int64_t chunk = kSplit ? kSplitChunk : kpad;
  static_assert(kParts == 1 || kParts == 3);
  const int64_t stride = kpad + 32;  // elements; the extra 64 bytes keep rows off one L1 set
  const int64_t sb = stride * 2;     // bytes
  const int64_t xblock = kpad / 2 * 16;  // words per 16 input rows
  const int64_t wgroups = wrows.groups;
  AlignedBuffer<uint16_t> wb(kAmxBlock * stride);
  std::vector<float> sbuf(kSplit ? kAmxBlock * wgroups : 0);  // the split's scales
  AlignedBuffer<float> acc(kAmxBlock * kAmxRows);  // [o - ob][m - r0], row stride ms
  alignas(64) float cbuf[4][16 * 16];
  ConfigureTiles16x64();
  for (int64_t ob = o0; ob < o1; ob += kAmxBlock) {
    const int64_t o_end = std::min(o1, ob + kAmxBlock);
    const int64_t npad = RoundUp(o_end - ob, 32);
    for (int64_t i = 0; i < o_end - ob; ++i) {
      wrows.Fill(ob + i, kpad, wb.data() + i * stride, kSplit ? sbuf.data() + i * wgroups : nullptr);
    }
    std::fill(wb.data() + (o_end - ob) * stride, wb.data() + npad * stride, uint16_t{0});
    if (kSplit) std::fill(sbuf.begin() + (o_end - ob) * wgroups, sbuf.end(), 0.0f);
    for (int64_t r0 = m0; r0 < m1; r0 += kAmxRows) {
      const int64_t r1 = std::min(m1, r0 + kAmxRows);
      const int64_t mb0 = r0 / 16, mb1 = (r1 + 15) / 16;
      const int64_t ms = (mb1 - mb0) * 16;
      std::fill(acc.data(), acc.data() + npad * ms, 0.0f);
      // Chunks within a group (split: one scale per chunk); the rounded weights carry
      // their scales, so there chunks run straight through the columns.
      const int64_t groups = kSplit ? wgroups : 1;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t g0 = kSplit ? g * wrows.group_size : 0;
        const int64_t g1 = g + 1 == groups ? kpad : g0 + wrows.group_size;
        for (int64_t k0 = g0; k0 < g1; k0 += chunk) {
          const int64_t k1 = std::min(g1, k0 + chunk);
          for (int64_t mb = mb0; mb < mb1; mb += 2) {
            const bool two = mb + 1 < mb1;
            for (int64_t oi = 0; oi < npad; oi += 32) {
              const uint16_t* a0 = wb.data() + oi * stride;
              const uint16_t* a1 = a0 + 16 * stride;
              _tile_zero(0);
              _tile_zero(1);
              _tile_zero(2);
              _tile_zero(3);
              for (int64_t k = k0; k < k1; k += 32) {
                _tile_loadd(4, a0 + k, sb);
                _tile_loadd(5, a1 + k, sb);
                for (int p = 0; p < kParts; ++p) {
                  const uint32_t* b0 = xp[p] + mb * xblock + k / 2 * 16;
                  _tile_loadd(6, b0, 64);
                  _tile_dpbf16ps(0, 4, 6);
                  _tile_dpbf16ps(1, 5, 6);
                  if (two) {
                    _tile_loadd(7, b0 + xblock, 64);
                    _tile_dpbf16ps(2, 4, 7);
                    _tile_dpbf16ps(3, 5, 7);
                  }
                }
              }
              _tile_stored(0, cbuf[0], 64);
              _tile_stored(1, cbuf[1], 64);
              if (two) {
                _tile_stored(2, cbuf[2], 64);
                _tile_stored(3, cbuf[3], 64);
              }
              // Tile t: output rows oi + 16 (t % 2) + i, input rows 16 (mb + t / 2) + j:
              // acc[ot + i][16 (mb + t / 2) + j - r0] += s[ot + i] C[i][j], row by row.
              for (int t = 0; t < (two ? 4 : 2); ++t) {
                const int64_t ot = oi + 16 * (t % 2);
                float* arow = acc.data() + ot * ms + (mb + t / 2) * 16 - r0;
                for (int i = 0; i < 16; ++i) {
                  float* dst = arow + i * ms;
                  const __m512 c = _mm512_load_ps(cbuf[t] + 16 * i);
                  if constexpr (kSplit) {
                    const __m512 sv = _mm512_set1_ps(sbuf[(ot + i) * wgroups + g]);
                    _mm512_storeu_ps(dst, _mm512_fmadd_ps(sv, c, _mm512_loadu_ps(dst)));
                  } else {
                    _mm512_storeu_ps(dst, _mm512_add_ps(c, _mm512_loadu_ps(dst)));
                  }
                }
              }
            }
          }
        }
      }
      // acc (outputs x rows) into y (rows x outputs), 16 x 16 blocks transposed.
      for (int64_t oi = 0; oi < o_end - ob; oi += 16) {
        const int64_t no = std::min<int64_t>(16, o_end - ob - oi);
        const __mmask16 om = static_cast<__mmask16>(no >= 16 ? 0xFFFF : (1u << no) - 1);
        for (int64_t m = r0; m < r1; m += 16) {
          __m512 v[16];
          for (int i = 0; i < 16; ++i) v[i] = _mm512_loadu_ps(acc.data() + (oi + i) * ms + m - r0);
          Transpose16x16(v, v);
          for (int64_t j = 0; j < std::min<int64_t>(16, r1 - m); ++j) {
            _mm512_mask_storeu_ps(y + (m + j) * wrows.out + ob + oi, om, v[j]);
          }
        }
      }
    }
  }
  _tile_release();
}

// x (rows, in) W^T into y on the tiles: x in kParts VNNI buffers, then AmxRowsChunked with
// each thread's make_rows() (W of `in` columns and `out` rows).
template <int kParts, typename MakeRows>
void AmxMatmul(int64_t in, int64_t out, const float* x, int64_t rows, float* y, MakeRows&& make_rows) {
  const int64_t kpad = RoundUp(in, 32);
  uint32_t* parts[kParts];
  const auto xv = ConvertVnni<kParts>(x, in, kpad, rows, parts);
  const uint32_t* xp[kParts];
  for (int p = 0; p < kParts; ++p) xp[p] = parts[p];
  const int64_t units = (out + kAmxBlock - 1) / kAmxBlock;
  const int64_t mblocks = (rows + 15) / 16;
  if (units >= 2 * ParallelThreads() || mblocks < 2 * ParallelThreads()) {
    // Threads take blocks of output rows (each dequantized once) over all input rows.
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / (kAmxBlock * in));
    ParallelFor(0, units, grain, [&](int64_t u0, int64_t u1) {
      auto w = make_rows();
      AmxRowsChunked<kParts>(w, xp, 0, rows, kpad, u0 * kAmxBlock, std::min(out, u1 * kAmxBlock), y);
    });
  } else {
    // Few output blocks (a small model's layer): threads take input rows in 16s, each
    // dequantizing all of the small W.
    ParallelFor(0, mblocks, 1, [&](int64_t b0, int64_t b1) {
      auto w = make_rows();
      AmxRowsChunked<kParts>(w, xp, b0 * 16, std::min(rows, b1 * 16), kpad, 0, out, y);
    });
  }
}

// --- one input row ---------------------------------------------------------------------

// x (in) rounded to bfloat16, in % 32 == 0.
LLMQ_AMX void ConvertGemvInput(const float* x, int64_t in, uint16_t* out) {
  for (int64_t c = 0; c < in; c += 32) {
    const __m512 lo = _mm512_loadu_ps(x + c), hi = _mm512_loadu_ps(x + c + 16);
    _mm512_storeu_si512(out + c, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
}

// y[o] for o in [o0, o1) from the codes unpacked to 16-bit lanes (VBMI) or bytes; groups
// of a multiple of 32 columns (or one), in % 32 == 0.
LLMQ_AMX void GemvUnpacked(const PackedWeights& w, const uint16_t* xb, int64_t o0, int64_t o1,
                           uint8_t* qbuf, uint8_t* zbuf, float* y) {
  if (CpuHasVbmi() && w.bits <= 5) {  // codes straight from the packed bytes
    const CodeUnpacker u = MakeUnpacker(w.bits);
    for (int64_t o = o0; o < o1; ++o) {
      const uint8_t* row = w.codes + o * w.code_row_bytes;
      UnpackCodesX86(w.zeros + o * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups, zbuf);
      const c10::Half* srow = w.scales + o * w.groups;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0;
      for (int64_t g = 0; g < w.groups; ++g) {
        const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
        const float s = static_cast<float>(srow[g]);
        const __m512i table = WeightTable(s, zbuf[g]);
        int64_t c = c0;
        for (; c + 64 <= c1; c += 64) {
          const char* p = reinterpret_cast<const char*>(row + c / 8 * w.bits);
          _mm_prefetch(p + kRowPrefetch, _MM_HINT_T0);
          _mm_prefetch(p + kRowPrefetchL2, _MM_HINT_T1);
          a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_permutexvar_epi16(Codes32(u, row, w.bits, c / 32), table),
                                (__m512bh)_mm512_loadu_si512(xb + c));
          a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_permutexvar_epi16(Codes32(u, row, w.bits, c / 32 + 1), table),
                                (__m512bh)_mm512_loadu_si512(xb + c + 32));
        }
        if (c < c1) {
          a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_permutexvar_epi16(Codes32(u, row, w.bits, c / 32), table),
                                (__m512bh)_mm512_loadu_si512(xb + c));
        }
      }
      y[o] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
    return;
  }
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* q = w.codes + o * w.code_row_bytes;
    UnpackCodesX86(q, w.code_row_bytes, w.bits, w.in, qbuf);
    q = qbuf;
    UnpackCodesX86(w.zeros + o * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups, zbuf);
    const c10::Half* srow = w.scales + o * w.groups;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
      const float s = static_cast<float>(srow[g]);
      const __m512i table = WeightTable(s, zbuf[g]);
      for (int64_t c = c0; c < c1; c += 32) {
        const __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + c)));
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_permutexvar_epi16(v, table),
                              (__m512bh)_mm512_loadu_si512(xb + c));
      }
    }
    y[o] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

// --- 2 to kFusedMaxRows input rows (AVX512-BF16, no AMX) -------------------------------

// Columns [c0, c1) (multiples of 32) of NR bfloat16 input rows x against 4 bfloat16 weight
// rows wt (both of row stride ld), VDPBF16PS summing column pairs into the 4 x NR vector
// partial sums part[(i * 4 + k) * 16 ...]: 32 columns per instruction, twice the float32
// tiles' 16.
template <int NR>
LLMQ_AMX void TileBf16(const uint16_t* wt, const uint16_t* x, int64_t ld, int64_t c0, int64_t c1,
                       float* part) {
  __m512 acc[NR][4];
  for (int i = 0; i < NR; ++i) {
    for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_loadu_ps(part + (i * 4 + k) * 16);
  }
  for (int64_t c = c0; c < c1; c += 32) {
    __m512bh wv[4];
    for (int k = 0; k < 4; ++k) wv[k] = (__m512bh)_mm512_loadu_si512(wt + k * ld + c);
    for (int i = 0; i < NR; ++i) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i * ld + c);
      for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_dpbf16_ps(acc[i][k], wv[k], xv);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int k = 0; k < 4; ++k) _mm512_storeu_ps(part + (i * 4 + k) * 16, acc[i][k]);
  }
}

LLMQ_AMX float SumBf16Part(const float* v) { return _mm512_reduce_add_ps(_mm512_loadu_ps(v)); }

// x (rows, in) rounded to bfloat16 into xb (rows, ld), zeros from `in` to kpad.
LLMQ_AMX void ConvertRowsBf16(const float* x, int64_t rows, int64_t in, int64_t kpad, int64_t ld,
                              uint16_t* xb) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < kpad; c += 16) {
      const int64_t left = std::max<int64_t>(0, std::min<int64_t>(16, in - c));
      const __mmask16 m = static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
      StoreBf16(xb + r * ld + c, 0xFFFF, _mm512_maskz_loadu_ps(m, x + r * in + c));
    }
  }
}

// y[r, o] for output rows [o0, o1) in bfloat16 register tiles (RegisterTileRows,
// model/register_tiles.h), chunks of 512 columns (1 KB per row).
LLMQ_AMX void RowsBf16(const PackedWeights& w, const uint16_t* xb, int64_t rows, int64_t kpad,
                       int64_t ld, int64_t o0, int64_t o1, float* y) {
  std::vector<uint8_t> qbuf(w.in + 64), zbuf(w.groups + 64);
  auto decode = [&](int64_t o, uint16_t* dst) {
    DequantizeRowBf16(w, o, kpad, qbuf.data(), zbuf.data(), dst);
  };
  auto tile = [ld](int nr, const uint16_t* wt, const uint16_t* xr, int64_t c0, int64_t c1, float* p) {
    switch (nr) {
      case 1: TileBf16<1>(wt, xr, ld, c0, c1, p); break;
      case 2: TileBf16<2>(wt, xr, ld, c0, c1, p); break;
      case 3: TileBf16<3>(wt, xr, ld, c0, c1, p); break;
      default: TileBf16<4>(wt, xr, ld, c0, c1, p); break;
    }
  };
  RegisterTileRows(kpad, ld, /*chunk=*/512, w.out, xb, rows, o0, o1, decode, tile, SumBf16Part, y);
}

}  // namespace

bool HasAmxBf16() {
  static const bool has = CpuAndOsHaveAmxBf16();
  return has;
}

bool HasAmxInt8() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return HasAmxBf16() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((d >> 25) & 1) != 0;
  }();
  return has;
}

bool MatmulAmxBf16(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (!HasAmxBf16() || w.g_idx != nullptr) return false;
  AmxMatmul<1>(w.in, w.out, x, rows, y, [&] { return PackedTileRows(w, false); });
  return true;
}

bool MatmulAmxSplit(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (!HasAmxBf16() || w.g_idx != nullptr || (w.groups > 1 && w.group_size % 32 != 0)) return false;
  AmxMatmul<3>(w.in, w.out, x, rows, y, [&] { return PackedTileRows(w, true); });
  return true;
}

bool Fp8MatmulAmxSplit(const Fp8Weights& w, const float* x, int64_t rows, float* y) {
  if (!HasAmxBf16()) return false;
  AmxMatmul<3>(w.in, w.out, x, rows, y, [&] { return Fp8TileRows(w); });
  return true;
}

bool HasAvx512Bf16() {
  static const bool has = CpuHasAvx512Bf16();
  return has;
}

bool DequantizeRowToBf16(const PackedWeights& w, int64_t o, uint8_t* qbuf, uint8_t* zbuf,
                         c10::BFloat16* out) {
  if (!HasAvx512Bf16() || w.g_idx != nullptr) return false;
  DequantizeRowBf16(w, o, w.in, qbuf, zbuf, reinterpret_cast<uint16_t*>(out));
  return true;
}

bool FusedRowsBf16(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (!HasAvx512Bf16() || w.g_idx != nullptr) return false;
  const int64_t kpad = RoundUp(w.in, 32);
  const int64_t ld = SpreadStride(kpad, 512);  // bfloat16 elements
  std::vector<uint16_t> xb(rows * ld);
  ConvertRowsBf16(x, rows, w.in, kpad, ld, xb.data());
  ParallelFor(0, w.out, RowGrain(w.in), [&](int64_t o0, int64_t o1) {
    RowsBf16(w, xb.data(), rows, kpad, ld, o0, o1, y);
  });
  return true;
}

bool GemvBf16(const PackedWeights& w, const float* x, float* y) {
  if (!HasAvx512Bf16() || w.g_idx != nullptr) return false;
  const int64_t grain = std::max<int64_t>(4, (int64_t{1} << 16) / w.in);
  if (TableGemvBf16Applies(w)) {
    ParallelFor(0, w.out, grain, [&](int64_t o0, int64_t o1) { TableGemvBf16Avx512(w, x, o0, o1, y); });
    return true;
  }
  // Widths above 5 (no 32-entry table) stay on the float32 path: 8-bit measured slower here.
  if (w.bits > 5 || w.in % 32 != 0 || (w.groups > 1 && w.group_size % 32 != 0)) return false;
  std::vector<uint16_t> xb(w.in);
  ConvertGemvInput(x, w.in, xb.data());
  ParallelFor(0, w.out, grain, [&](int64_t o0, int64_t o1) {
    std::vector<uint8_t> qbuf(w.in + 64), zbuf(w.groups + 64);
    GemvUnpacked(w, xb.data(), o0, o1, qbuf.data(), zbuf.data(), y);
  });
  return true;
}

#else  // not x86-64 Linux with GCC/Clang

bool HasAmxBf16() { return false; }
bool HasAmxInt8() { return false; }
bool HasAvx512Bf16() { return false; }
bool GemvBf16(const PackedWeights&, const float*, float*) { return false; }
bool FusedRowsBf16(const PackedWeights&, const float*, int64_t, float*) { return false; }
bool DequantizeRowToBf16(const PackedWeights&, int64_t, uint8_t*, uint8_t*, c10::BFloat16*) {
  return false;
}
bool MatmulAmxBf16(const PackedWeights&, const float*, int64_t, float*) { return false; }
bool MatmulAmxSplit(const PackedWeights&, const float*, int64_t, float*) { return false; }
bool Fp8MatmulAmxSplit(const Fp8Weights&, const float*, int64_t, float*) { return false; }

#endif

}  // namespace internal
}  // namespace llmq
