// The packed-weight kernels with AVX-512 / AVX2 intrinsics. The build targets baseline
// x86-64, so each kernel carries its own target attribute and runs only after a cpuid
// check; other architectures get stubs that decline.
//
// Every width goes the same way: a row's codes are unpacked into bytes in column order
// (4-bit with shuffles, 8-bit read in place, other widths with BMI2 pdep: codes 8j..8j+7
// always fill the `bits` bytes from byte bits*j, whatever the width), then per group g
// (columns [c0, c1), any start, any length, masked or scalar at the end):
//   dot_g[r] = sum_c (q[o,c] - z[o,g]) x[r,c]   (exact integers in float32, FMAs, two
//                                                accumulators)
//   y[r,o]   = sum_g s[o,g] dot_g[r]
// (q - z before the products: no cancellation between sum q x and z sum x.)
// One input row (decode) runs on the codes directly; of 2-, 3- and 4-bit codes in groups
// of a multiple of 128 columns, as indices into a per-group table of the dequantized
// weights s (q - z) (TableRow), the same float32 weights the many-row kernels multiply.
// Several rows dequantize four weight rows at a time to float32 and multiply them in
// 4 x 4 register tiles over the input rows, column chunk by column chunk (L1-sized), so
// each weight row is unpacked once and each x load feeds four FMAs. The kernels are
// compiled at -O3 (function attribute): at the build's -O2, GCC leaves the small
// register-tile loops rolled and spills the tiles, 3x slower.
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

#include "model/packing.h"
#include "model/quantized_kernels.h"
#include "model/register_tiles.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include "model/transpose16.h"
#define LLMQ_X86_KERNELS 1
#endif

namespace llmq {
namespace internal {

#ifdef LLMQ_X86_KERNELS

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("bmi2");
  return has;
}
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("bmi2");
  return has;
}

bool HasAvx512Vbmi() {
  static const bool has = HasAvx512() && __builtin_cpu_supports("avx512vbmi");
  return has;
}

#define LLMQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,bmi2"), optimize("O3")))
#define LLMQ_AVX2 __attribute__((target("avx2,fma,bmi2"), optimize("O3")))
#define LLMQ_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi"), optimize("O3")))

namespace {

// Codes [0, n - n % 64) of a row of `bits`-bit codes (bits < 8), 64 at a time: code 8i + t
// lies at bits t * bits .. of the `bits` bytes from byte bits * i, so vpermb gives each
// 64-bit lane i the 8 bytes from byte bits * i, vpmultishiftqb picks byte t of the lane
// from bit t * bits, and an AND keeps the code. (Bytes past the group's own are read into
// the top of a lane only to be masked off; the load is masked at the row's end.) Returns
// how many codes it wrote.
LLMQ_VBMI int64_t UnpackCodesVbmi(const uint8_t* packed, int64_t packed_bytes, int bits,
                                  int64_t n, uint8_t* out) {
  struct Table {
    alignas(64) uint8_t perm[64];
    alignas(64) uint8_t shift[64];
  };
  static const auto* tables = [] {  // per width, built once (a prefill span is 128 codes)
    auto* t = new std::array<Table, 8>();
    for (int b = 1; b < 8; ++b) {
      for (int i = 0; i < 8; ++i) {
        for (int k = 0; k < 8; ++k) {
          (*t)[b].perm[8 * i + k] = static_cast<uint8_t>(b * i + k);
          (*t)[b].shift[8 * i + k] = static_cast<uint8_t>(b * k);
        }
      }
    }
    return t;
  }();
  const Table& table = (*tables)[bits];
  const __m512i vperm = _mm512_load_si512(table.perm), vshift = _mm512_load_si512(table.shift);
  const __m512i field = _mm512_set1_epi8(static_cast<char>((1 << bits) - 1));
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    const int64_t byte = j / 8 * bits;
    const int64_t avail = std::min<int64_t>(64, packed_bytes - byte);
    const __mmask64 m = avail >= 64 ? ~__mmask64{0} : (__mmask64{1} << avail) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(m, packed + byte);
    const __m512i lanes = _mm512_permutexvar_epi8(vperm, v);
    _mm512_storeu_si512(out + j, _mm512_and_si512(_mm512_multishift_epi64_epi8(vshift, lanes), field));
  }
  return j;
}

}  // namespace

LLMQ_AVX2 void UnpackCodesX86(const uint8_t* packed, int64_t packed_bytes, int bits, int64_t n,
                              uint8_t* out) {
  int64_t j = 0;
  if (bits == 8) {
    std::memcpy(out, packed, static_cast<size_t>(n));
    return;
  }
  if (bits != 4 && KernelLevel() >= 2 && HasAvx512Vbmi()) {
    j = UnpackCodesVbmi(packed, packed_bytes, bits, n, out);
  }
  if (bits == 4) {  // 32 bytes -> 64 codes: low nibble first, so interleave (lo, hi)
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (; j + 64 <= n; j += 64) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed + j / 2));
      const __m256i lo = _mm256_and_si256(v, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      const __m256i a = _mm256_unpacklo_epi8(lo, hi);  // codes 0..15 | 32..47
      const __m256i b = _mm256_unpackhi_epi8(lo, hi);  // codes 16..31 | 48..63
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm256_permute2x128_si256(a, b, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j + 32),
                          _mm256_permute2x128_si256(a, b, 0x31));
    }
  }
  const uint64_t field = (uint64_t{1} << bits) - 1;
  const uint64_t mask = field * 0x0101010101010101ull;  // the low `bits` of every byte
  for (; j + 8 <= n; j += 8) {
    const int64_t byte = j / 8 * bits;
    uint64_t word = 0;
    if (byte + 8 <= packed_bytes) {
      std::memcpy(&word, packed + byte, 8);  // one load
    } else {
      std::memcpy(&word, packed + byte, static_cast<size_t>(packed_bytes - byte));
    }
    const uint64_t codes = _pdep_u64(word, mask);
    std::memcpy(out + j, &codes, 8);
  }
  if (j < n) UnpackRow(packed, bits, j, n - j, out + j);
}

LLMQ_AVX512 void HalfToFloat512(const c10::Half* h, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(h[i]);
}

namespace {

// Row o's codes as bytes in column order: in place for 8-bit, else unpacked into qbuf.
inline const uint8_t* RowCodes(const PackedWeights& w, int64_t o, uint8_t* qbuf) {
  const uint8_t* row = w.codes + o * w.code_row_bytes;
  if (w.bits == 8) return row;
  UnpackCodesX86(row, w.code_row_bytes, w.bits, w.in, qbuf);
  return qbuf;
}

// Row o's zeros (groups, as bytes) into zbuf and scales (as float32) into sbuf. The
// scales convert with vcvtph2ps where the CPU has AVX-512 (c10::Half's portable
// conversion cost the one-row 4-bit kernel ~2% of its time on a 2048-wide layer).
inline void RowGroupParams(const PackedWeights& w, int64_t o, uint8_t* zbuf, float* sbuf) {
  UnpackCodesX86(w.zeros + o * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups, zbuf);
  const c10::Half* srow = w.scales + o * w.groups;
  if (HasAvx512()) {
    HalfToFloat512(srow, w.groups, sbuf);
  } else {
    for (int64_t g = 0; g < w.groups; ++g) sbuf[g] = static_cast<float>(srow[g]);
  }
}

// y[r * w.out] for r < R from one row's codes q (in), scales s and zeros z (groups);
// x (R, in) with row stride w.in.
template <int R>
LLMQ_AVX512 void RowDots512(const PackedWeights& w, const uint8_t* q, const float* s,
                            const uint8_t* z, const float* x, float* y) {
  __m512 total[R];
  for (int r = 0; r < R; ++r) total[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
    const __m512i zv = _mm512_set1_epi32(z[g]);
    __m512 a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
    int64_t c = c0;
    for (; c + 32 <= c1; c += 32) {
      const __m512 q0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c))), zv));
      const __m512 q1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c + 16))), zv));
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(x + r * w.in + c), a0[r]);
        a1[r] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(x + r * w.in + c + 16), a1[r]);
      }
    }
    for (; c < c1; c += 16) {  // at most two: one whole, one masked
      const int64_t left = std::min<int64_t>(16, c1 - c);
      const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
      const __m512 q0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, q + c)), zv));
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, x + r * w.in + c), a0[r]);
      }
    }
    const __m512 vs = _mm512_set1_ps(s[g]);
    for (int r = 0; r < R; ++r) total[r] = _mm512_fmadd_ps(_mm512_add_ps(a0[r], a1[r]), vs, total[r]);
  }
  for (int r = 0; r < R; ++r) y[r * w.out] = _mm512_reduce_add_ps(total[r]);
}

// out[c - k0] = s[g] * (q[c - k0] - z[g]) in float32 for columns [k0, k1) of one weight
// row (group g of column c), as DequantizeRows computes it: a whole row for the 2..16-row
// kernel, a span of kGemmKc columns for the prefill GEMM.
LLMQ_AVX512 void DequantizeCols512(const PackedWeights& w, const uint8_t* q, const float* s,
                                   const uint8_t* z, int64_t k0, int64_t k1, float* out) {
  for (int64_t c0 = k0; c0 < k1;) {
    const int64_t g = c0 / w.group_size;
    const int64_t c1 = std::min(k1, (g + 1) * w.group_size);
    const __m512i zv = _mm512_set1_epi32(z[g]);
    const __m512 vs = _mm512_set1_ps(s[g]);
    for (int64_t c = c0; c < c1; c += 16) {
      const __mmask16 m = static_cast<__mmask16>((1u << std::min<int64_t>(16, c1 - c)) - 1);
      const __m512i qi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, q + c - k0)), zv);
      _mm512_mask_storeu_ps(out + c - k0, m, _mm512_mul_ps(_mm512_cvtepi32_ps(qi), vs));
    }
    c0 = c1;
  }
}


// Zeros and scales of rows [o, o + n) as float32, groups per row: zf and sf (n * groups),
// zb (n * groups + 64 bytes) scratch. Where each row's zeros fill its bytes exactly (no
// padding between rows), one unpacking call for all n rows.
LLMQ_AVX512 void BlockGroupParams(const PackedWeights& w, int64_t o, int64_t n, uint8_t* zb,
                                  float* zf, float* sf) {
  const int64_t count = n * w.groups;
  if (w.zero_row_bytes * 8 == w.groups * w.bits) {
    UnpackCodesX86(w.zeros + o * w.zero_row_bytes, n * w.zero_row_bytes, w.bits, count, zb);
  } else {
    for (int64_t r = 0; r < n; ++r) {
      UnpackCodesX86(w.zeros + (o + r) * w.zero_row_bytes, w.zero_row_bytes, w.bits, w.groups,
                     zb + r * w.groups);
    }
  }
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(zf + i, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zb + i)))));
  }
  for (; i < count; ++i) zf[i] = zb[i];
  HalfToFloat512(w.scales + o * w.groups, count, sf);
}

// Calls row(o, z, s) for each row o in [o0, o1) with its zeros z and scales s per group as
// float32, converted 16 rows at a time (BlockGroupParams) rather than per row or group.
template <typename RowFn>
void ForEachRowWithParams(const PackedWeights& w, int64_t o0, int64_t o1, RowFn&& row) {
  constexpr int64_t kBlock = 16;
  std::vector<uint8_t> zb(kBlock * w.groups + 64);
  std::vector<float> zf(kBlock * w.groups), sf(kBlock * w.groups);
  for (int64_t ob = o0; ob < o1; ob += kBlock) {
    const int64_t nb = std::min(kBlock, o1 - ob);
    BlockGroupParams(w, ob, nb, zb.data(), zf.data(), sf.data());
    for (int64_t o = ob; o < ob + nb; ++o) {
      row(o, zf.data() + (o - ob) * w.groups, sf.data() + (o - ob) * w.groups);
    }
  }
}

// One input row of 4-bit codes straight from the packed bytes (no unpacking pass): 16
// bytes widen to 16 int32 lanes, each holding two codes, low nibble = even column; so x
// is read in "nibble order", per 32 columns its 16 even then its 16 odd entries (xd, from
// NibbleOrder). Same products (q - z) x and per-group sums as RowDots512, in another
// order. Needs in % 32 == 0 and groups of a multiple of 32 columns (or one group).
LLMQ_AVX512 void NibbleOrder(const float* x, int64_t in, float* xd) {
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t c = 0; c < in; c += 32) {
    const __m512 lo = _mm512_loadu_ps(x + c), hi = _mm512_loadu_ps(x + c + 16);
    _mm512_storeu_ps(xd + c, _mm512_permutex2var_ps(lo, evens, hi));
    _mm512_storeu_ps(xd + c + 16, _mm512_permutex2var_ps(lo, odds, hi));
  }
}

// One weight row of the nibble kernel, sub: 2 * groups floats of scratch. Codes become
// floats without a conversion: a code k < 2^23 OR-ed into the bits of 2^23
// is the float 2^23 + k exactly, so one ternary-logic op (AND the nibble, OR the exponent)
// and one exact subtraction of 2^23 + z give q - z; the odd column's nibble is taken in
// place (bits 4..7, 16 q), so its sum is 16 x too large, exactly, and scaled back once
// per group. 7 vector ops per 32 weights instead of 9.
LLMQ_AVX512 float NibbleRow(const PackedWeights& w, const float* xd, const uint8_t* row,
                            const float* z, const float* s, float* sub) {
  const __m512i low4 = _mm512_set1_epi32(0x0F), high4 = _mm512_set1_epi32(0xF0);
  const __m512i two23 = _mm512_set1_epi32(0x4B000000);  // the bits of 2^23
  // Per group the subtrahends 2^23 + z and 2^23 + 16 z and the scale are broadcast
  // operands from memory, not converted and broadcast per group (g32 2048 x 2048, one
  // thread warm: 309 us, was 315-341; g128 159).
  float* z0 = sub;
  float* z1 = sub + w.groups;
  for (int64_t g = 0; g < w.groups; ++g) {
    z0[g] = 8388608.0f + z[g];
    z1[g] = 8388608.0f + 16.0f * z[g];
  }
  __m512 total = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (int64_t c = c0; c < c1; c += 32) {
      if (c % 128 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + c / 2) + kRowPrefetch, _MM_HINT_T0);
      const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2)));
      // (v & mask) | 2^23 bits: imm 0xEA = (A & B) | C.
      const __m512 q0 = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_ternarylogic_epi32(v, low4, two23, 0xEA)), _mm512_set1_ps(z0[g]));
      const __m512 q1 = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_ternarylogic_epi32(v, high4, two23, 0xEA)), _mm512_set1_ps(z1[g]));
      a0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(xd + c), a0);
      a1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(xd + c + 16), a1);
    }
    total = _mm512_fmadd_ps(_mm512_fmadd_ps(a1, _mm512_set1_ps(0.0625f), a0), _mm512_set1_ps(s[g]), total);
  }
  return _mm512_reduce_add_ps(total);
}

void GemvInt4Rows512(const PackedWeights& w, const float* xd, int64_t o0, int64_t o1, float* y) {
  std::vector<float> sub(2 * w.groups);
  ForEachRowWithParams(w, o0, o1, [&](int64_t o, const float* z, const float* s) {
    y[o] = NibbleRow(w, xd, w.codes + o * w.code_row_bytes, z, s, sub.data());
  });
}

// One input row of 2-, 3- or 4-bit codes, groups of a multiple of 128 columns: the codes
// index a table of the group's weights. Per 128 columns of a row, lane i of a 16-lane
// vector holds the codes of columns 8i..8i+7 (the 8 * bits bits from byte bits * i),
// code k at bit k * bits: 4-bit codes lie so in the packed row already, 2- and 3-bit rows
// are first spread that way, 64 bytes per 128 columns (TableLanesVbmi). vpermps reads only
// the low 4 bits of each index, so the lanes shifted right by k * bits index a 16-float
// table t[j] = s (j mod 2^bits - z) of the group, the float32 weights DequantizeCols512
// makes: one shift and one permutation per 16 weights, no conversion. x is read in the
// same order (xd from TableOrder: per 128 columns, x[8i + k] at 16k + i).
//
// Against the nibble kernel (GemvInt4Rows512, 7 vector ops per 32 weights) a 4-bit
// 2048 x 2048 layer in the caches on one Zen 4 thread took 159 us instead of 212. From
// memory the codes are prefetched kRowPrefetch bytes ahead (the next row of a 4096-wide
// 4-bit layer): a cold 4096 x 4096 layer took 950 us instead of 1390 on one thread, 525
// instead of 700-740 on two. Two weight rows at a time, sharing the x loads, ran 7%
// faster from the caches but 5-40% slower from memory (two streams 2 KB apart).
constexpr int64_t kTableCols = 128;

bool TableGemvApplies(const PackedWeights& w) {
  return (w.bits == 4 || ((w.bits == 2 || w.bits == 3) && HasAvx512Vbmi())) &&
         w.in % kTableCols == 0 && w.group_size % kTableCols == 0;
}

LLMQ_AVX512 void TableOrder(const float* x, int64_t in, float* xd) {
  const __m512i stride8 = _mm512_set_epi32(120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0);
  for (int64_t c = 0; c < in; c += kTableCols) {
    for (int k = 0; k < 8; ++k) _mm512_storeu_ps(xd + c + 16 * k, _mm512_i32gather_ps(stride8, x + c + k, 4));
  }
}

// A row of `in` codes of `bits` < 4 bits spread into lanes: per 128 columns, bytes
// 4i..4i+3 of the 64 out <- packed bytes bits * i.. (one vpermb).
LLMQ_VBMI void TableLanesVbmi(const uint8_t* row, int bits, int64_t in, uint8_t* out) {
  alignas(64) uint8_t perm[64];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 4; ++j) perm[4 * i + j] = static_cast<uint8_t>(bits * i + std::min(j, bits - 1));
  }
  const __m512i vperm = _mm512_load_si512(perm);
  const __mmask64 m = (__mmask64{1} << (16 * bits)) - 1;
  for (int64_t c = 0; c < in; c += kTableCols) {
    const uint8_t* p = row + c / 8 * bits;
    _mm_prefetch(reinterpret_cast<const char*>(p) + kRowPrefetch, _MM_HINT_T0);
    _mm512_storeu_si512(out + c / 2, _mm512_permutexvar_epi8(vperm, _mm512_maskz_loadu_epi8(m, p)));
  }
}

// v rounded to bfloat16 (to nearest even) and back to float32, for normal numbers and
// zeros (the table's weights: half-precision scales times small integers).
LLMQ_AVX512 inline __m512 RoundNormalToBf16(__m512 v) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7FFF)), lsb),
                                              _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// Any v rounded as VCVTNEPS2BF16 rounds: subnormals become zeros of their sign, NaNs stay
// NaNs (quiet).
LLMQ_AVX512 inline __m512 RoundToBf16(__m512 v) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512i r = _mm512_castps_si512(RoundNormalToBf16(v));
  const __m512i mag = _mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(mag, _mm512_set1_epi32(0x7F800000));
  const __mmask16 tiny = _mm512_cmplt_epu32_mask(mag, _mm512_set1_epi32(0x00800000));
  r = _mm512_mask_mov_epi32(r, nan, _mm512_and_si512(_mm512_or_si512(b, _mm512_set1_epi32(0x00400000)), high));
  r = _mm512_mask_mov_epi32(r, tiny, _mm512_and_si512(b, _mm512_set1_epi32(static_cast<int>(0x80000000u))));
  return _mm512_castsi512_ps(r);
}

// One weight row's product with xd from its lanes (64 bytes per 128 columns) and its zeros
// z and scales s per group. 4-bit lanes are the packed row itself, so they are prefetched
// ahead here; 2-/3-bit lanes were spread from a row TableLanesVbmi prefetched. kBf16: the
// table's weights rounded to bfloat16, as the bfloat16 kernels dequantize them (the caller
// rounds xd too: then every product is one of two bfloat16 numbers, exact in float32).
template <int kBits, bool kBf16>
LLMQ_AVX512 float TableRow(const PackedWeights& w, const float* xd, const uint8_t* lanes,
                           const float* z, const float* s) {
  const __m512 iota = _mm512_cvtepi32_ps(_mm512_and_si512(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
      _mm512_set1_epi32((1 << kBits) - 1)));
  // Four sums: a chain of FMAs (4 cycles each on Zen 4) per 128 columns stays short of
  // the 16-18 cycles the shifts and permutations take.
  __m512 acc[4];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(z[g])), _mm512_set1_ps(s[g]));
    if constexpr (kBf16) t = RoundNormalToBf16(t);
    const int64_t c1 = (g + 1) * w.group_size;
    for (int64_t c = g * w.group_size; c < c1; c += kTableCols) {
      const uint8_t* p = lanes + c / 2;
      if constexpr (kBits == 4) {
        _mm_prefetch(reinterpret_cast<const char*>(p) + kRowPrefetch, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(p) + kRowPrefetchL2, _MM_HINT_T1);
      }
      const __m512i v = _mm512_loadu_si512(p);
      for (int k = 0; k < 8; ++k) {
        const __m512i idx = k == 0 ? v : _mm512_srli_epi32(v, k * kBits);
        acc[k % 4] = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx, t), _mm512_loadu_ps(xd + c + 16 * k), acc[k % 4]);
      }
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

template <int kBits, bool kBf16>
void TableGemv(const PackedWeights& w, const float* xd, int64_t o0, int64_t o1, float* y) {
  std::vector<uint8_t> lanebuf(kBits == 4 ? 0 : w.in / 2);
  ForEachRowWithParams(w, o0, o1, [&](int64_t o, const float* z, const float* s) {
    const uint8_t* lanes = w.codes + o * w.code_row_bytes;
    if constexpr (kBits != 4) {
      TableLanesVbmi(lanes, kBits, w.in, lanebuf.data());
      lanes = lanebuf.data();
    }
    y[o] = TableRow<kBits, kBf16>(w, xd, lanes, z, s);
  });
}

LLMQ_AVX512 void RoundToBf16(float* v, int64_t n) {  // n % 16 == 0
  for (int64_t i = 0; i < n; i += 16) _mm512_storeu_ps(v + i, RoundToBf16(_mm512_loadu_ps(v + i)));
}

template <bool kBf16>
void TableGemvAny(const PackedWeights& w, const float* x, int64_t o0, int64_t o1, float* y) {
  std::vector<float> xd(w.in);
  TableOrder(x, w.in, xd.data());
  if constexpr (kBf16) RoundToBf16(xd.data(), w.in);
  switch (w.bits) {
    case 2: TableGemv<2, kBf16>(w, xd.data(), o0, o1, y); break;
    case 3: TableGemv<3, kBf16>(w, xd.data(), o0, o1, y); break;
    default: TableGemv<4, kBf16>(w, xd.data(), o0, o1, y); break;
  }
}

LLMQ_AVX512 float SumOf16(const float* v) { return _mm512_reduce_add_ps(_mm512_loadu_ps(v)); }

// Columns [c0, c1) of NR input rows x against 4 dequantized weight rows wt (both of row
// stride ld), added to the 4 x NR vector partial sums part[(i * 4 + k) * 16 ...].
template <int NR>
LLMQ_AVX512 void Tile512(const float* wt, const float* x, int64_t ld, int64_t c0, int64_t c1,
                         float* part) {
  __m512 acc[NR][4];
  for (int i = 0; i < NR; ++i) {
    for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_loadu_ps(part + (i * 4 + k) * 16);
  }
  int64_t c = c0;
  for (; c + 16 <= c1; c += 16) {
    __m512 wv[4];
    for (int k = 0; k < 4; ++k) wv[k] = _mm512_loadu_ps(wt + k * ld + c);
    for (int i = 0; i < NR; ++i) {
      const __m512 xv = _mm512_loadu_ps(x + i * ld + c);
      for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_fmadd_ps(wv[k], xv, acc[i][k]);
    }
  }
  if (c < c1) {
    const __mmask16 m = static_cast<__mmask16>((1u << (c1 - c)) - 1);
    __m512 wv[4];
    for (int k = 0; k < 4; ++k) wv[k] = _mm512_maskz_loadu_ps(m, wt + k * ld + c);
    for (int i = 0; i < NR; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ld + c);
      for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_fmadd_ps(wv[k], xv, acc[i][k]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int k = 0; k < 4; ++k) _mm512_storeu_ps(part + (i * 4 + k) * 16, acc[i][k]);
  }
}

LLMQ_AVX2 inline float HorizontalSum(__m256 v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

template <int R>
LLMQ_AVX2 void RowDots256(const PackedWeights& w, const uint8_t* q, const float* s,
                          const uint8_t* z, const float* x, float* y) {
  __m256 total[R];
  float offset[R];
  for (int r = 0; r < R; ++r) {
    total[r] = _mm256_setzero_ps();
    offset[r] = 0.0f;
  }
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t c0 = g * w.group_size, c1 = std::min(w.in, c0 + w.group_size);
    const __m256i zv = _mm256_set1_epi32(z[g]);
    __m256 a0[R], a1[R];
    float edge[R];
    for (int r = 0; r < R; ++r) {
      a0[r] = a1[r] = _mm256_setzero_ps();
      edge[r] = 0.0f;
    }
    int64_t c = c0;
    for (; c + 16 <= c1; c += 16) {
      const __m256 q0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c))), zv));
      const __m256 q1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c + 8))), zv));
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(x + r * w.in + c), a0[r]);
        a1[r] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(x + r * w.in + c + 8), a1[r]);
      }
    }
    if (c + 8 <= c1) {
      const __m256 q0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c))), zv));
      for (int r = 0; r < R; ++r) a0[r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(x + r * w.in + c), a0[r]);
      c += 8;
    }
    for (; c < c1; ++c) {
      const float qz = static_cast<float>(q[c] - z[g]);
      for (int r = 0; r < R; ++r) edge[r] += qz * x[r * w.in + c];
    }
    const __m256 vs = _mm256_set1_ps(s[g]);
    for (int r = 0; r < R; ++r) {
      total[r] = _mm256_fmadd_ps(_mm256_add_ps(a0[r], a1[r]), vs, total[r]);
      offset[r] += s[g] * edge[r];
    }
  }
  for (int r = 0; r < R; ++r) y[r * w.out] = HorizontalSum(total[r]) + offset[r];
}

// Many input rows (prefill): a register-blocked GEMM over W dequantized panel by panel.
// Input rows go 512 at a time (kGemmMc); per block of kGemmKc columns, x's rows are first
// packed kGemmMr at a time into (kc, kGemmMr) slabs, so the micro-kernel's broadcasts read
// consecutive floats (read in place, 12 rows of a 4096-wide x lie 16 KB apart, all in one
// L1 set). Then each panel, 32 output rows x kc columns of W, is dequantized to float32 as
// DequantizeRows computes it and transposed to (kc, 32), so each k gives two vectors of 32
// consecutive outputs; the micro-kernel keeps MR x 32 outputs in 2 * MR registers and
// broadcasts x[m, k] into them (24 FMAs per 14 loads at MR = 12). The panel (128 KB) stays
// in L2 while the row block's slabs (2 MB) stream past it from L3, so each weight is
// dequantized once per 512 input rows; y accumulates over the column blocks. Measured on
// a Zen 4 (32 KB L1, 1 MB L2 per core), 4096^2 int4, fraction of the FMA peak at 512 /
// 2048 / 8192 rows: kc 128 (a panel in L1, y loaded and stored every 128 columns)
// 0.63-0.81; kc 1024 without row blocks 0.86-0.88 / 0.81-0.83 / 0.71-0.74 (2048+ rows'
// slabs outgrow the L3); kc 1024 in blocks of 512 rows 0.81-0.89 / 0.80-0.86 / 0.84-0.86.
constexpr int64_t kGemmKc = 1024;
constexpr int64_t kGemmMc = 512;
constexpr int kGemmMr = 12;

// dst[j * 32 + i] = src[i * src_stride + j] for i, j < 16: one 16 x 16 block transposed.
LLMQ_AVX512 void Transpose16(const float* src, int64_t src_stride, float* dst) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
  Transpose16x16(r, r);
  for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + j * 32, r[j]);
}

// c (M, 32; row stride ldc; the first n columns stored) = (accumulate ? c : 0) +
// a (kc, M; row stride lda: a packed slab) bp (kc, 32).
template <int M>
LLMQ_AVX512 void GemmMicro(const float* a, int64_t lda, const float* bp, int64_t kc, float* c,
                           int64_t ldc, int n, bool accumulate) {
  const __mmask16 m0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(n >= 32 ? 0xFFFF : n <= 16 ? 0 : (1u << (n - 16)) - 1);
  __m512 acc0[M], acc1[M];
  for (int m = 0; m < M; ++m) {
    acc0[m] = accumulate ? _mm512_maskz_loadu_ps(m0, c + m * ldc) : _mm512_setzero_ps();
    acc1[m] = accumulate ? _mm512_maskz_loadu_ps(m1, c + m * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(bp + k * 32), b1 = _mm512_loadu_ps(bp + k * 32 + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 av = _mm512_set1_ps(a[k * lda + m]);
      acc0[m] = _mm512_fmadd_ps(av, b0, acc0[m]);
      acc1[m] = _mm512_fmadd_ps(av, b1, acc1[m]);
    }
  }
  for (int m = 0; m < M; ++m) {
    _mm512_mask_storeu_ps(c + m * ldc, m0, acc0[m]);
    _mm512_mask_storeu_ps(c + m * ldc + 16, m1, acc1[m]);
  }
}

// GemmMicro for the last rows of x (rows < kGemmMr), its slab still kGemmMr wide.
template <int M>
void GemmMicroRows(const float* a, int64_t lda, const float* bp, int64_t kc, float* c,
                   int64_t ldc, int n, bool accumulate, int rows) {
  if constexpr (M > 1) {
    if (rows < M) {
      GemmMicroRows<M - 1>(a, lda, bp, kc, c, ldc, n, accumulate, rows);
      return;
    }
  }
  GemmMicro<M>(a, lda, bp, kc, c, ldc, n, accumulate);
}

// Rows [r, r + m) (m <= kGemmMr) of x, columns [k0, k0 + kc), into slab (kc, kGemmMr).
void PackSlab(const float* x, int64_t in, int64_t r, int64_t m, int64_t k0, int64_t kc,
              float* slab) {
  for (int64_t i = 0; i < m; ++i) {
    const float* src = x + (r + i) * in + k0;
    for (int64_t k = 0; k < kc; ++k) slab[k * kGemmMr + i] = src[k];
  }
}

// Columns [k0, k1) of row o of W in float32 into out[0, k1 - k0), zeros up to a multiple of 16.
// zrow / srow: the row's zeros and scales per group.
LLMQ_AVX512 void DequantizeSpan512(const PackedWeights& w, int64_t o, int64_t k0, int64_t k1,
                                   const uint8_t* zrow, const float* srow, uint8_t* qbuf,
                                   float* out) {
  const uint8_t* q;
  const int64_t offset = k0 * w.bits / 8;  // k0 % 8 == 0: a whole byte
  if (w.bits == 8) {
    q = w.codes + o * w.code_row_bytes + k0;
  } else {
    const int64_t bytes = std::min((k1 - k0) * w.bits / 8 + 1, w.code_row_bytes - offset);
    UnpackCodesX86(w.codes + o * w.code_row_bytes + offset, bytes, w.bits, k1 - k0, qbuf);
    q = qbuf;
  }
  DequantizeCols512(w, q, srow, zrow, k0, k1, out);
  for (int64_t c = k1 - k0; c % 16 != 0; ++c) out[c] = 0.0f;
}

// y[r, o] for output rows [o0, o1) and input rows r < rows of x (rows, in); y (rows, out).
// decode(o, k0, k1, dst): columns [k0, k1) of weight row o as float32 into dst (a span of
// at most kGemmKc columns; what lies after it up to a multiple of 16 is transposed with
// it but never multiplied).
template <typename DecodeSpan>
void GemmPanels512(int64_t in, int64_t out, const float* x, int64_t rows, int64_t o0,
                   int64_t o1, DecodeSpan&& decode, float* y) {
  if (rows > kGemmMc) {
    for (int64_t r0 = 0; r0 < rows; r0 += kGemmMc) {
      GemmPanels512(in, out, x + r0 * in, std::min(kGemmMc, rows - r0), o0, o1, decode, y + r0 * out);
    }
    return;
  }
  const int64_t kc_max = std::min(kGemmKc, (in + 15) / 16 * 16);
  const int64_t slabs = (rows + kGemmMr - 1) / kGemmMr;
  std::vector<float> span(16 * kc_max), panel(kc_max * 32), packed(slabs * kc_max * kGemmMr);
  for (int64_t k0 = 0; k0 < in; k0 += kGemmKc) {
    const int64_t k1 = std::min(in, k0 + kGemmKc);
    const int64_t kc16 = (k1 - k0 + 15) / 16 * 16;
    for (int64_t s = 0; s < slabs; ++s) {
      PackSlab(x, in, s * kGemmMr, std::min<int64_t>(kGemmMr, rows - s * kGemmMr), k0, k1 - k0,
               packed.data() + s * kc_max * kGemmMr);
    }
    for (int64_t p = o0; p < o1; p += 32) {
      const int n = static_cast<int>(std::min<int64_t>(32, o1 - p));
      for (int half = 0; half < 2; ++half) {
        for (int i = 0; i < 16; ++i) {
          const int r = half * 16 + i;
          float* dst = span.data() + i * kc_max;
          if (r < n) {
            decode(p + r, k0, k1, dst);
          } else {
            std::fill(dst, dst + kc16, 0.0f);
          }
        }
        for (int64_t k = 0; k < kc16; k += 16) {
          Transpose16(span.data() + k, kc_max, panel.data() + k * 32 + half * 16);
        }
      }
      for (int64_t s = 0; s < slabs; ++s) {
        const int64_t r = s * kGemmMr;
        GemmMicroRows<kGemmMr>(packed.data() + s * kc_max * kGemmMr, kGemmMr, panel.data(),
                               k1 - k0, y + r * out + p, out, n, k0 > 0,
                               static_cast<int>(std::min<int64_t>(kGemmMr, rows - r)));
      }
    }
  }
}

// Several input rows (at most kFusedMaxRows) in float32 register tiles (RegisterTileRows,
// model/register_tiles.h): decode(o, dst) writes all `in` columns of weight row o.
// y (rows, out), rows [o0, o1).
template <typename DecodeRow>
void TileRows512(int64_t in, int64_t out, const float* x, int64_t rows, int64_t o0, int64_t o1,
                 DecodeRow&& decode, float* y) {
  const int64_t ld = SpreadStride(in, 256);
  std::vector<float> xs(rows * ld);
  for (int64_t r = 0; r < rows; ++r) std::copy(x + r * in, x + (r + 1) * in, xs.begin() + r * ld);
  auto tile = [ld](int nr, const float* wt, const float* xr, int64_t c0, int64_t c1, float* p) {
    switch (nr) {
      case 1: Tile512<1>(wt, xr, ld, c0, c1, p); break;
      case 2: Tile512<2>(wt, xr, ld, c0, c1, p); break;
      case 3: Tile512<3>(wt, xr, ld, c0, c1, p); break;
      default: Tile512<4>(wt, xr, ld, c0, c1, p); break;
    }
  };
  RegisterTileRows(in, ld, /*chunk=*/256, out, xs.data(), rows, o0, o1, decode, tile, SumOf16, y);
}

}  // namespace

bool GemmRowsAvx512(const PackedWeights& w, const float* x, int64_t rows, int64_t o0,
                    int64_t o1, float* y) {
  if (!HasAvx512() || w.g_idx != nullptr) return false;
  std::vector<uint8_t> qbuf(kGemmKc + 64), zbuf((o1 - o0) * w.groups);
  std::vector<float> sbuf((o1 - o0) * w.groups);
  for (int64_t o = o0; o < o1; ++o) {
    RowGroupParams(w, o, zbuf.data() + (o - o0) * w.groups, sbuf.data() + (o - o0) * w.groups);
  }
  GemmPanels512(w.in, w.out, x, rows, o0, o1,
                [&](int64_t o, int64_t k0, int64_t k1, float* dst) {
                  const int64_t at = (o - o0) * w.groups;
                  DequantizeSpan512(w, o, k0, k1, zbuf.data() + at, sbuf.data() + at, qbuf.data(), dst);
                }, y);
  return true;
}

bool FusedRowsAvx512(const PackedWeights& w, const float* x, int64_t rows, int64_t o0,
                     int64_t o1, uint8_t* qbuf, uint8_t* zbuf, float* sbuf, float* y) {
  if (!HasAvx512()) return false;
  if (rows == 1 && TableGemvApplies(w)) {
    TableGemvAny<false>(w, x, o0, o1, y);
    return true;
  }
  if (rows == 1 && w.bits == 4 && w.in % 32 == 0 && (w.groups == 1 || w.group_size % 32 == 0)) {
    std::vector<float> xd(w.in);
    NibbleOrder(x, w.in, xd.data());
    GemvInt4Rows512(w, xd.data(), o0, o1, y);
    return true;
  }
  if (rows == 1) {  // x (in) stays in L1: codes straight into the products
    for (int64_t o = o0; o < o1; ++o) {
      const uint8_t* q = RowCodes(w, o, qbuf);
      RowGroupParams(w, o, zbuf, sbuf);
      RowDots512<1>(w, q, sbuf, zbuf, x, y + o);
    }
    return true;
  }
  TileRows512(w.in, w.out, x, rows, o0, o1, [&](int64_t o, float* dst) {
    const uint8_t* q = RowCodes(w, o, qbuf);
    RowGroupParams(w, o, zbuf, sbuf);
    DequantizeCols512(w, q, sbuf, zbuf, 0, w.in, dst);
  }, y);
  return true;
}

bool TableGemvBf16Applies(const PackedWeights& w) {
  return HasAvx512() && w.g_idx == nullptr && TableGemvApplies(w);
}

void TableGemvBf16Avx512(const PackedWeights& w, const float* x, int64_t o0, int64_t o1,
                         float* y) {
  TableGemvAny<true>(w, x, o0, o1, y);
}

bool FusedRowsAvx2(const PackedWeights& w, const float* x, int64_t rows,
                   int64_t o0, int64_t o1, uint8_t* qbuf, uint8_t* zbuf, float* sbuf, float* y) {
  if (!HasAvx2()) return false;
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* q = RowCodes(w, o, qbuf);
    RowGroupParams(w, o, zbuf, sbuf);
    for (int64_t r = 0; r < rows; r += 4) {
      const float* xr = x + r * w.in;
      float* yr = y + r * w.out + o;
      switch (std::min<int64_t>(4, rows - r)) {
        case 1: RowDots256<1>(w, q, sbuf, zbuf, xr, yr); break;
        case 2: RowDots256<2>(w, q, sbuf, zbuf, xr, yr); break;
        case 3: RowDots256<3>(w, q, sbuf, zbuf, xr, yr); break;
        default: RowDots256<4>(w, q, sbuf, zbuf, xr, yr); break;
      }
    }
  }
  return true;
}

namespace {

// FP8 codes become float32 through half precision, whose conversion (vcvtph2ps) is exact
// and handles subnormals: an E5M2 code is the high byte of the half with the same value;
// an E4M3 code's 7 magnitude bits shifted left by 7 make the half's exponent and mantissa
// bits with the exponent bias 15 instead of 7, i.e. its value times 2^-8 (subnormals
// included: m/8 * 2^-6 becomes the half subnormal m * 2^-17), so E4M3 scales carry the
// factor 2^8. The sign: bit 7 sign-extended to bit 15 (bit 14, also the sign, masked).
// 16 codes per call; lanes where m is clear read as code 0 (value 0).
template <bool kE5M2>
LLMQ_AVX512 __m512 Fp8Half16(const uint8_t* p, __mmask16 m) {
  const __m128i b = _mm_maskz_loadu_epi8(m, p);
  const __m256i h = kE5M2 ? _mm256_slli_epi16(_mm256_cvtepu8_epi16(b), 8)
                          : _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(b), 7),
                                             _mm256_set1_epi16(static_cast<int16_t>(0xBF80)));
  return _mm512_cvtph_ps(h);
}

template <bool kE5M2>
constexpr float kFp8HalfFactor = kE5M2 ? 1.0f : 256.0f;

inline __mmask16 TailMask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

// dst[0, n) = scale * decode(codes[0, n)), rounded once as Fp8Linear::DequantizedWeight.
template <bool kE5M2>
LLMQ_AVX512 void Fp8DecodeSpan(const uint8_t* codes, int64_t n, float scale, float* dst) {
  const __m512 vs = _mm512_set1_ps(scale * kFp8HalfFactor<kE5M2>);
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = TailMask(n - c);
    _mm512_mask_storeu_ps(dst + c, m, _mm512_mul_ps(Fp8Half16<kE5M2>(codes + c, m), vs));
  }
}

// One weight row's product with x: four FMA chains over 64 codes at a time, the codes
// prefetched kRowPrefetch bytes ahead (half a 4096-wide row).
template <bool kE5M2>
LLMQ_AVX512 float Fp8Row(const uint8_t* row, const float* x, int64_t in, float scale) {
  __m512 acc[4];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 64 <= in; c += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(row + c) + kRowPrefetch, _MM_HINT_T0);
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(Fp8Half16<kE5M2>(row + c + 16 * k, 0xFFFF), _mm512_loadu_ps(x + c + 16 * k), acc[k]);
    }
  }
  for (; c < in; c += 16) {
    const __mmask16 m = TailMask(in - c);
    acc[0] = _mm512_fmadd_ps(Fp8Half16<kE5M2>(row + c, m), _mm512_maskz_loadu_ps(m, x + c), acc[0]);
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
  return _mm512_reduce_add_ps(sum) * (scale * kFp8HalfFactor<kE5M2>);
}

float Fp8Scale(const Fp8Weights& w, int64_t o) { return w.scales[w.per_channel ? o : 0]; }

template <bool kE5M2>
void Fp8Rows(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0, int64_t o1, float* y) {
  if (rows == 1) {
    for (int64_t o = o0; o < o1; ++o) y[o] = Fp8Row<kE5M2>(w.codes + o * w.in, x, w.in, Fp8Scale(w, o));
    return;
  }
  TileRows512(w.in, w.out, x, rows, o0, o1, [&](int64_t o, float* dst) {
    Fp8DecodeSpan<kE5M2>(w.codes + o * w.in, w.in, Fp8Scale(w, o), dst);
  }, y);
}

template <bool kE5M2>
void Fp8GemmRows(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0, int64_t o1, float* y) {
  GemmPanels512(w.in, w.out, x, rows, o0, o1, [&](int64_t o, int64_t k0, int64_t k1, float* dst) {
    Fp8DecodeSpan<kE5M2>(w.codes + o * w.in + k0, k1 - k0, Fp8Scale(w, o), dst);
  }, y);
}

// codes[0, n) as the bfloat16 words of their halves' values (decode(code) / factor, at most
// four significant bits: the high half of the float32 is the value exactly), zeros from n
// to kpad; returns the factor.
template <bool kE5M2>
LLMQ_AVX512 float Fp8RowToBf16Words(const uint8_t* codes, int64_t n, int64_t kpad, uint16_t* dst) {
  for (int64_t c = 0; c < kpad; c += 16) {
    const __mmask16 m = TailMask(std::max<int64_t>(0, std::min<int64_t>(16, n - c)));
    const __m512i bits = _mm512_srli_epi32(_mm512_castps_si512(Fp8Half16<kE5M2>(codes + c, m)), 16);
    _mm256_mask_storeu_epi16(dst + c, TailMask(kpad - c), _mm512_cvtepi32_epi16(bits));
  }
  return kFp8HalfFactor<kE5M2>;
}

// run(std::bool_constant<format is E5M2>) on AVX-512 CPUs; false elsewhere.
template <typename Run>
bool WithFp8Decoder(const Fp8Weights& w, Run&& run) {
  if (!HasAvx512()) return false;
  if (w.format == Fp8Format::kE5M2) {
    run(std::true_type());
  } else {
    run(std::false_type());
  }
  return true;
}

}  // namespace

bool Fp8RowsAvx512(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0, int64_t o1,
                   float* y) {
  return WithFp8Decoder(w, [&](auto e5m2) { Fp8Rows<decltype(e5m2)::value>(w, x, rows, o0, o1, y); });
}

bool Fp8GemmRowsAvx512(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0,
                       int64_t o1, float* y) {
  return WithFp8Decoder(w, [&](auto e5m2) { Fp8GemmRows<decltype(e5m2)::value>(w, x, rows, o0, o1, y); });
}

float Fp8RowToBf16(const Fp8Weights& w, int64_t o, int64_t kpad, uint16_t* dst) {
  float factor = 0;
  WithFp8Decoder(w, [&](auto e5m2) {
    constexpr bool kE5M2 = decltype(e5m2)::value;
    factor = Fp8RowToBf16Words<kE5M2>(w.codes + o * w.in, w.in, kpad, dst);
  });
  return Fp8Scale(w, o) * factor;
}

#else  // not x86-64 with GCC/Clang: the portable path handles everything

bool HasAvx512() { return false; }
bool HasAvx2() { return false; }
void HalfToFloat512(const c10::Half* h, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(h[i]);
}
void UnpackCodesX86(const uint8_t* packed, int64_t, int bits, int64_t n, uint8_t* out) {
  UnpackRow(packed, bits, 0, n, out);
}
bool GemmRowsAvx512(const PackedWeights&, const float*, int64_t, int64_t, int64_t, float*) {
  return false;
}
bool FusedRowsAvx512(const PackedWeights&, const float*, int64_t, int64_t, int64_t,
                     uint8_t*, uint8_t*, float*, float*) {
  return false;
}
bool FusedRowsAvx2(const PackedWeights&, const float*, int64_t, int64_t, int64_t,
                   uint8_t*, uint8_t*, float*, float*) {
  return false;
}
bool TableGemvBf16Applies(const PackedWeights&) { return false; }
void TableGemvBf16Avx512(const PackedWeights&, const float*, int64_t, int64_t, float*) {}

bool Fp8RowsAvx512(const Fp8Weights&, const float*, int64_t, int64_t, int64_t, float*) {
  return false;
}
bool Fp8GemmRowsAvx512(const Fp8Weights&, const float*, int64_t, int64_t, int64_t, float*) {
  return false;
}
float Fp8RowToBf16(const Fp8Weights&, int64_t, int64_t, uint16_t*) { return 0; }

#endif

}  // namespace internal
}  // namespace llmq
