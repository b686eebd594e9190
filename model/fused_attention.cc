#include "model/fused_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "model/aligned.h"
#include "model/parallel.h"
#include "model/quantized_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "model/amx_tiles.h"
#include "model/avx512_math.h"
#include "model/transpose16.h"
#define LLMQ_ATTENTION_AVX512 1
#endif

namespace llmq {
namespace {

#ifdef LLMQ_ATTENTION_AVX512
using internal::Exp512;
using internal::Load;
using internal::Store;
using internal::Tail;
using internal::Transpose16x16;

constexpr int kTileRows = 6;           // query vectors per score tile
constexpr int64_t kKeyBlock = 64;      // keys per block (4 registers of scores)
constexpr int64_t kBlockVectors = 48;  // query vectors (positions x group heads) per work item

// The arguments, as raw pointers and element strides.
template <typename T>
struct Args {
  const T *q, *k, *v;
  T* out;
  int64_t qs[3], ks[3], vs[3];  // strides of dims 0..2 (dim 3 is contiguous)
  int64_t batch, heads, kv_heads, group, seq, hd;
  float scale;
  const std::vector<std::vector<int32_t>>* slots;  // per batch row: its real slots in order
  const int32_t* keys_before;  // (batch, seq): real slots <= past + i, query i's key count
};

using internal::AlignedVector;  // model/aligned.h: the tiles read and write rows of 64 bytes
using internal::RoundUp;

// Per thread, for one work item: a block of keys transposed (hd x 64) and of values
// (64 x hp, hp = hd rounded up to 16, zero-padded), in float32 (on the tiles: bfloat16
// pairs in 32-bit words); the queries (rows x hd, float32 or bfloat16); their scores, then
// softmax numerators (rows x ld); the value sums (rows x hp, and sink rows); key counts,
// 1 / sums, and a row of zeros.
struct Scratch {
  AlignedVector<float> kt, vb, q, p, acc;
  std::vector<float> inv, zero;
  AlignedVector<uint32_t> pw;  // on the tiles: the numerators in bfloat16 (rows x ld)
  std::vector<int32_t> n;
};

// kt[d * 64 + j] = k[slots[j]][d] for j < n, 0 for n <= j < 64.
template <typename T>
LLMQ_AVX512_FN void TransposeKeys(const T* k, int64_t row_stride, const int32_t* slots, int64_t n,
                                  int64_t hd, float* kt) {
  __m512 rows[16], cols[16];
  for (int64_t j0 = 0; j0 < kKeyBlock; j0 += 16) {
    for (int64_t d0 = 0; d0 < hd; d0 += 16) {
      const __mmask16 m = Tail(hd - d0);
      for (int r = 0; r < 16; ++r) {
        rows[r] = j0 + r < n ? Load(k + slots[j0 + r] * row_stride + d0, m) : _mm512_setzero_ps();
      }
      Transpose16x16(rows, cols);
      for (int64_t dd = 0; dd < std::min<int64_t>(16, hd - d0); ++dd) {
        _mm512_storeu_ps(kt + (d0 + dd) * kKeyBlock + j0, cols[dd]);
      }
    }
  }
}

// vb[j * hp + d] = v[slots[j]][d] for j < n, d < hd; 0 for hd <= d < hp.
template <typename T>
LLMQ_AVX512_FN void GatherValues(const T* v, int64_t row_stride, const int32_t* slots, int64_t n,
                                 int64_t hd, int64_t hp, float* vb) {
  for (int64_t j = 0; j < n; ++j) {
    const T* row = v + slots[j] * row_stride;
    for (int64_t d = 0; d < hp; d += 16) _mm512_storeu_ps(vb + j * hp + d, Load(row + d, Tail(hd - d)));
  }
}

// scores[r * ld + j] = scale * sum_d q[r][d] kt[d][j] for RQ query vectors and the 64
// keys of a block: each sum one chain of FMAs over d = 0 .. hd - 1.
template <int RQ>
LLMQ_AVX512_FN void ScoreBlock(const float* q, int64_t hd, const float* kt, float scale, float* scores,
                               int64_t ld) {
  __m512 acc[RQ][4];
  for (int r = 0; r < RQ; ++r) {
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const float* col = kt;
  for (int64_t d = 0; d < hd; ++d, col += kKeyBlock) {
    const __m512 k0 = _mm512_loadu_ps(col), k1 = _mm512_loadu_ps(col + 16),
                 k2 = _mm512_loadu_ps(col + 32), k3 = _mm512_loadu_ps(col + 48);
    for (int r = 0; r < RQ; ++r) {
      const __m512 qb = _mm512_set1_ps(q[r * hd + d]);
      acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(qb, k2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(qb, k3, acc[r][3]);
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int r = 0; r < RQ; ++r) {
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(scores + r * ld + 16 * c, _mm512_mul_ps(acc[r][c], vscale));
  }
}

void ScoreRows(int64_t rq, const float* q, int64_t hd, const float* kt, float scale, float* scores,
               int64_t ld) {
  switch (rq) {
    case 6: return ScoreBlock<6>(q, hd, kt, scale, scores, ld);
    case 5: return ScoreBlock<5>(q, hd, kt, scale, scores, ld);
    case 4: return ScoreBlock<4>(q, hd, kt, scale, scores, ld);
    case 3: return ScoreBlock<3>(q, hd, kt, scale, scores, ld);
    case 2: return ScoreBlock<2>(q, hd, kt, scale, scores, ld);
    default: return ScoreBlock<1>(q, hd, kt, scale, scores, ld);
  }
}

// In place over the first n of a row: exp(s - max), then zeros up to `width`; returns
// 1 / the sum of what it stored (0 when n == 0). The sum: 16 lanes by key number, then
// one fixed tree. kAmx: the row holds raw dot products, scaled here first, and the
// numerators are rounded to bfloat16 (the tiles' operand) before they are summed.
template <bool kAmx>
LLMQ_AVX512_FN float SoftmaxNumerators(float* s, int64_t n, int64_t width, float scale) {
  if (n == 0) {
    std::fill(s, s + width, 0.0f);
    return 0.0f;
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = Tail(n - j);
    __m512 v = _mm512_maskz_loadu_ps(m, s + j);
    if (kAmx) {
      v = _mm512_mul_ps(v, vscale);
      _mm512_mask_storeu_ps(s + j, m, v);
    }
    vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
  }
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = Tail(n - j);
    __m512 e = _mm512_maskz_mov_ps(m, Exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), max)));
    if (kAmx) e = internal::RoundTo(static_cast<c10::BFloat16*>(nullptr), e);
    _mm512_storeu_ps(s + j, e);  // zeros past n within the last 16
    vsum = _mm512_add_ps(vsum, e);
  }
  std::fill(s + RoundUp(n, 16), s + width, 0.0f);
  return 1.0f / _mm512_reduce_add_ps(vsum);
}

// acc[r][d0 + d] += sum_{j < j_end} p[r][j] vb[j][d0 + d], d < 16 NZ, for RQ rows: each
// element one chain of FMAs over j in order (a row's numerators past its own key count
// are 0 and add nothing).
template <int NZ>
LLMQ_AVX512_FN void ValueBlock(const float* vb, int64_t hp, const float* const* p, int64_t j_end,
                               float* const* acc_rows) {
  constexpr int RQ = 24 / NZ > 8 ? 8 : 24 / NZ;
  __m512 acc[RQ][NZ];
  for (int r = 0; r < RQ; ++r) {
    for (int c = 0; c < NZ; ++c) acc[r][c] = _mm512_loadu_ps(acc_rows[r] + 16 * c);
  }
  for (int64_t j = 0; j < j_end; ++j) {
    __m512 vv[NZ];
    for (int c = 0; c < NZ; ++c) vv[c] = _mm512_loadu_ps(vb + j * hp + 16 * c);
    for (int r = 0; r < RQ; ++r) {
      const __m512 pb = _mm512_set1_ps(p[r][j]);
      for (int c = 0; c < NZ; ++c) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RQ; ++r) {
    for (int c = 0; c < NZ; ++c) _mm512_storeu_ps(acc_rows[r] + 16 * c, acc[r][c]);
  }
}

int RowsPerValueTile(int nz) { return std::min(8, 24 / nz); }

void ValueRows(int nz, const float* vb, int64_t hp, const float* const* p, int64_t j_end,
               float* const* acc_rows) {
  switch (nz) {
#define LLMQ_NZ_CASE(NZ) \
    case NZ: return ValueBlock<NZ>(vb, hp, p, j_end, acc_rows);
    LLMQ_NZ_CASE(1) LLMQ_NZ_CASE(2) LLMQ_NZ_CASE(3) LLMQ_NZ_CASE(4)
    LLMQ_NZ_CASE(5) LLMQ_NZ_CASE(6) LLMQ_NZ_CASE(7) LLMQ_NZ_CASE(8)
#undef LLMQ_NZ_CASE
  }
}

// The bfloat16 path on CPUs with AMX-BF16: scores and value sums on the tiles
// (TDPBF16PS: 16 x 16 sums of 32 products per instruction), the softmax numerators
// rounded to bfloat16 for the value sums (as ATen's bfloat16 path rounds the
// probabilities). The tiles take pairs of bfloat16 as 32-bit words: keys transposed by
// words (the B operand of q k^T), values interleaved by key pairs (the B operand of p v).
// Every tile row is 64 bytes; head_dim a multiple of 32.
#define LLMQ_AMX_FN                                                                          \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,fma"), \
                 optimize("O3")))

LLMQ_AMX_FN void ReleaseTiles() { _tile_release(); }

// kt[w * 64 + j] = word w (features 2w, 2w + 1) of key slots[j], j < n; 0 past n.
LLMQ_AMX_FN void TransposeKeyPairs(const c10::BFloat16* k, int64_t row_stride, const int32_t* slots,
                                   int64_t n, int64_t hw, uint32_t* kt) {
  __m512 rows[16], cols[16];
  for (int64_t j0 = 0; j0 < kKeyBlock; j0 += 16) {
    for (int64_t w0 = 0; w0 < hw; w0 += 16) {
      for (int r = 0; r < 16; ++r) {
        rows[r] = j0 + r < n ? _mm512_loadu_ps(k + slots[j0 + r] * row_stride + 2 * w0) : _mm512_setzero_ps();
      }
      Transpose16x16(rows, cols);
      for (int ww = 0; ww < 16; ++ww) _mm512_storeu_ps(reinterpret_cast<float*>(kt + (w0 + ww) * kKeyBlock + j0), cols[ww]);
    }
  }
}

// vw[jp * hd + d] = (v[slots[2 jp]][d], v[slots[2 jp + 1]][d]) for the 32 key pairs of a
// block (keys past n: 0).
LLMQ_AMX_FN void GatherValuePairs(const c10::BFloat16* v, int64_t row_stride, const int32_t* slots,
                                  int64_t n, int64_t hd, uint32_t* vw) {
  for (int64_t j = 0; j < kKeyBlock; j += 2) {
    const c10::BFloat16* lo = j < n ? v + slots[j] * row_stride : nullptr;
    const c10::BFloat16* hi = j + 1 < n ? v + slots[j + 1] * row_stride : nullptr;
    for (int64_t d = 0; d < hd; d += 16) {
      const __m512i a = lo ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + d)))
                           : _mm512_setzero_si512();
      const __m512i b = hi ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + d)))
                           : _mm512_setzero_si512();
      _mm512_storeu_si512(vw + (j / 2) * hd + d, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
    }
  }
}

// Raw scores of 16 query rows (q: bfloat16 rows of hd, stride hd) against the 16-key
// column groups [0, groups) of a transposed block: scores[r * ld + 16 g + c].
LLMQ_AMX_FN void ScoreTiles(const c10::BFloat16* q, int64_t hd, const uint32_t* kt, int groups,
                            float* scores, int64_t ld) {
  for (int g = 0; g < groups; ++g) {
    _tile_zero(0);
    for (int64_t t = 0; t < hd / 32; ++t) {
      _tile_loadd(1, q + 32 * t, hd * 2);
      _tile_loadd(2, kt + t * 16 * kKeyBlock + 16 * g, kKeyBlock * 4);
      _tile_dpbf16ps(0, 1, 2);
    }
    _tile_stored(0, scores + 16 * g, ld * 4);
  }
}

// acc (16 rows x 16 features, stride hp) += p (16 rows of bfloat16 numerators, stride ld,
// `chunks` chunks of 32 keys) times the value pairs (vw, stride hd words), features d0..d0+15.
LLMQ_AMX_FN void ValueTiles(const c10::BFloat16* p, int64_t ld, const uint32_t* vw, int64_t hd, int chunks,
                            float* acc, int64_t hp) {
  _tile_loadd(0, acc, hp * 4);
  for (int c = 0; c < chunks; ++c) {
    _tile_loadd(1, p + 32 * c, ld * 2);
    _tile_loadd(2, vw + c * 16 * hd, hd * 4);
    _tile_dpbf16ps(0, 1, 2);
  }
  _tile_stored(0, acc, hp * 4);
}

// A row of numerators (already bfloat16 values in float32) as bfloat16.
LLMQ_AVX512_FN void NumeratorsToBf16(const float* p, int64_t n, c10::BFloat16* out) {
  for (int64_t j = 0; j < n; j += 16) Store(out + j, _mm512_loadu_ps(p + j), Tail(n - j));
}

// One work item: batch row b, KV head h, query positions [i0, i1) of its `group` heads.
// Key blocks outermost, so a block's keys and values stay in L1 while every query of the
// item reads them. kAmx: the tiles (bfloat16, head_dim a multiple of 32; the caller has
// configured them).
template <typename T, bool kAmx>
LLMQ_AVX512_FN void AttendBlock(const Args<T>& a, int64_t b, int64_t h, int64_t i0, int64_t i1,
                                Scratch& s) {
  const int32_t* slots = (*a.slots)[b].data();
  const int32_t* counts = a.keys_before + b * a.seq;
  const int64_t hd = a.hd, hp = RoundUp(hd, 16), rows = (i1 - i0) * a.group;
  const int64_t rows_pad = kAmx ? RoundUp(rows, 16) : rows;  // whole tiles, zero rows past
  const int64_t n_max = counts[i1 - 1];  // counts grow with i
  const int64_t ld = RoundUp(std::max<int64_t>(n_max, 1), kKeyBlock);
  // Float32 buffers; on the tiles, kt, vb and q hold bfloat16 (pairs as 32-bit words).
  s.kt.resize(hd * kKeyBlock);
  s.vb.resize(kKeyBlock * hp);
  s.q.resize(rows_pad * hd);
  s.p.resize(rows_pad * ld);
  if (kAmx) {
    s.pw.resize(rows_pad * ld / 2);  // real rows: written below; padded rows: zeros
    std::fill(s.pw.begin() + rows * ld / 2, s.pw.end(), 0u);
  }
  s.acc.assign((rows_pad + 8) * hp, 0.0f);  // 8 sink rows past the item's
  s.inv.resize(rows);
  s.n.resize(rows);
  if (static_cast<int64_t>(s.zero.size()) < ld) s.zero.assign(ld, 0.0f);
  uint32_t* kt_words = reinterpret_cast<uint32_t*>(s.kt.data());
  uint32_t* vb_words = reinterpret_cast<uint32_t*>(s.vb.data());
  c10::BFloat16* q_bf16 = reinterpret_cast<c10::BFloat16*>(s.q.data());
  c10::BFloat16* p_bf16 = reinterpret_cast<c10::BFloat16*>(s.pw.data());
  const T* kb = a.k + b * a.ks[0] + h * a.ks[1];
  const T* vbase = a.v + b * a.vs[0] + h * a.vs[1];
  // Vector r = position offset * group + head in group; key counts grow with r.
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r / a.group, head = h * a.group + r % a.group;
    const T* q = a.q + b * a.qs[0] + head * a.qs[1] + i * a.qs[2];
    if (kAmx) {
      std::memcpy(q_bf16 + r * hd, q, hd * sizeof(T));
    } else {
      for (int64_t d = 0; d < hd; d += 16) {
        _mm512_mask_storeu_ps(s.q.data() + r * hd + d, Tail(hd - d), Load(q + d, Tail(hd - d)));
      }
    }
    s.n[r] = counts[i];
  }
  if (kAmx) std::fill(q_bf16 + rows * hd, q_bf16 + rows_pad * hd, c10::BFloat16(0.0f));
  // The largest key count among rows [r0, r0 + tile).
  auto tile_keys = [&](int64_t r0, int64_t tile) { return s.n[std::min(rows, r0 + tile) - 1]; };
  for (int64_t j0 = 0; j0 < n_max; j0 += kKeyBlock) {
    const int64_t jb = std::min(kKeyBlock, n_max - j0);
    if constexpr (kAmx) {
      TransposeKeyPairs(kb, a.ks[2], slots + j0, jb, hd / 2, kt_words);
      for (int64_t r0 = 0; r0 < rows_pad; r0 += 16) {
        const int64_t keys = tile_keys(r0, 16) - j0;
        if (keys <= 0) continue;
        ScoreTiles(q_bf16 + r0 * hd, hd, kt_words, static_cast<int>(std::min<int64_t>(4, (keys + 15) / 16)),
                   s.p.data() + r0 * ld + j0, ld);
      }
    } else {
      TransposeKeys(kb, a.ks[2], slots + j0, jb, hd, s.kt.data());
      for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
        const int64_t rq = std::min<int64_t>(kTileRows, rows - r0);
        if (tile_keys(r0, rq) <= j0) continue;  // no row of the tile has keys here
        ScoreRows(rq, s.q.data() + r0 * hd, hd, s.kt.data(), a.scale, s.p.data() + r0 * ld + j0, ld);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* p = s.p.data() + r * ld;
    s.inv[r] = SoftmaxNumerators<kAmx>(p, s.n[r], ld, a.scale);
    if (kAmx) NumeratorsToBf16(p, ld, p_bf16 + r * ld);
  }
  for (int64_t j0 = 0; j0 < n_max; j0 += kKeyBlock) {
    const int64_t jb = std::min(kKeyBlock, n_max - j0);
    if constexpr (kAmx) {
      GatherValuePairs(vbase, a.vs[2], slots + j0, jb, hd, vb_words);
      for (int64_t r0 = 0; r0 < rows_pad; r0 += 16) {
        const int64_t keys = tile_keys(r0, 16) - j0;
        if (keys <= 0) continue;
        const int chunks = static_cast<int>(std::min<int64_t>(2, (keys + 31) / 32));
        for (int64_t d0 = 0; d0 < hd; d0 += 16) {
          ValueTiles(p_bf16 + r0 * ld + j0, ld, vb_words + d0, hd, chunks, s.acc.data() + r0 * hp + d0, hp);
        }
      }
      continue;
    }
    // Float32 FMAs: rows past the item's read the zero row and write to the sink rows.
    GatherValues(vbase, a.vs[2], slots + j0, jb, hd, hp, s.vb.data());
    for (int64_t d0 = 0; d0 < hp; d0 += 128) {
      const int nz = static_cast<int>(std::min<int64_t>(128, hp - d0) / 16), rq = RowsPerValueTile(nz);
      for (int64_t r0 = 0; r0 < rows; r0 += rq) {
        const int64_t last = std::min<int64_t>(rows, r0 + rq) - 1;
        const int64_t j_end = std::min<int64_t>(jb, s.n[last] - j0);
        if (j_end <= 0) continue;
        const float* p[8];
        float* acc[8];
        for (int r = 0; r < rq; ++r) {
          const bool real = r0 + r <= last;
          p[r] = real ? s.p.data() + (r0 + r) * ld + j0 : s.zero.data();
          acc[r] = s.acc.data() + (real ? r0 + r : rows + r) * hp + d0;
        }
        ValueRows(nz, s.vb.data() + d0, hp, p, j_end, acc);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r / a.group, head = h * a.group + r % a.group;
    T* out = a.out + ((b * a.seq + i) * a.heads + head) * hd;
    const __m512 inv = _mm512_set1_ps(s.inv[r]);
    for (int64_t d = 0; d < hd; d += 16) {
      // A query without keys gets zeros even where 0 times a later key's non-finite
      // value made its sums NaN.
      const __m512 o = s.n[r] == 0 ? _mm512_setzero_ps() : _mm512_mul_ps(_mm512_loadu_ps(s.acc.data() + r * hp + d), inv);
      Store(out + d, o, Tail(hd - d));
    }
  }
}

template <typename T>
void Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_mask,
            int64_t past, double scale, at::Tensor& out) {
  Args<T> a;
  a.q = q.data_ptr<T>();
  a.k = k.data_ptr<T>();
  a.v = v.data_ptr<T>();
  a.out = out.data_ptr<T>();
  for (int d = 0; d < 3; ++d) a.qs[d] = q.stride(d), a.ks[d] = k.stride(d), a.vs[d] = v.stride(d);
  a.batch = q.size(0);
  a.heads = q.size(1);
  a.seq = q.size(2);
  a.hd = q.size(3);
  a.kv_heads = k.size(1);
  a.group = a.heads / a.kv_heads;
  a.scale = static_cast<float>(scale);
  // Each row's real slots, and each query's count of real slots up to its own.
  const at::Tensor mask = key_mask.to(at::kBool).contiguous();
  const bool* m = mask.data_ptr<bool>();
  const int64_t total = past + a.seq;
  std::vector<std::vector<int32_t>> slots(a.batch);
  std::vector<int32_t> counts(a.batch * a.seq);
  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t t = 0; t < total; ++t) {
      if (m[b * total + t]) slots[b].push_back(static_cast<int32_t>(t));
      if (t >= past) counts[b * a.seq + t - past] = static_cast<int32_t>(slots[b].size());
    }
  }
  a.slots = &slots;
  a.keys_before = counts.data();
  const int64_t block = std::max<int64_t>(1, kBlockVectors / a.group);
  const int64_t blocks = (a.seq + block - 1) / block;
  const int64_t items = a.batch * a.kv_heads * blocks;
  // SetFusedKernelForTesting("avx512") (or lower) turns the tiles off.
  const bool amx = std::is_same<T, c10::BFloat16>::value && a.hd % 32 == 0 &&
                   internal::KernelLevel() >= 3 && internal::HasAmxBf16();
  // Dynamic claiming, the last blocks (the most keys) first.
  std::atomic<int64_t> next{0};
  ParallelFor(0, ParallelThreads(), 1, [&](int64_t, int64_t) {
    Scratch scratch;
    // The tiles configured for this thread, released however the loop ends.
    struct Tiles {
      explicit Tiles(bool on) : on(on) {
        if (on) internal::ConfigureTiles16x64();
      }
      ~Tiles() {
        if (on) ReleaseTiles();
      }
      bool on;
    } tiles(amx);
    for (int64_t it = next++; it < items; it = next++) {
      const int64_t blk = blocks - 1 - it / (a.batch * a.kv_heads);
      const int64_t bh = it % (a.batch * a.kv_heads);
      const int64_t i0 = blk * block;
      const int64_t i1 = std::min(a.seq, i0 + block);
      if constexpr (std::is_same<T, c10::BFloat16>::value) {
        if (amx) {
          AttendBlock<T, true>(a, bh / a.kv_heads, bh % a.kv_heads, i0, i1, scratch);
          continue;
        }
      }
      AttendBlock<T, false>(a, bh / a.kv_heads, bh % a.kv_heads, i0, i1, scratch);
    }
  });
}
#endif

}  // namespace

at::Tensor FusedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& key_mask, int64_t past, double scale) {
#ifdef LLMQ_ATTENTION_AVX512
  const at::ScalarType t = q.scalar_type();
  if (!internal::HasAvx512() || !q.is_cpu() || !k.is_cpu() || !v.is_cpu() || !key_mask.is_cpu() ||
      q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || key_mask.dim() != 2 ||
      (t != at::kFloat && t != at::kBFloat16) || k.scalar_type() != t || v.scalar_type() != t ||
      key_mask.scalar_type() != at::kBool || q.stride(3) != 1 || k.stride(3) != 1 ||
      v.stride(3) != 1 || !k.sizes().equals(v.sizes()) || k.size(0) != q.size(0) ||
      k.size(3) != q.size(3) || q.size(3) == 0 || k.size(1) == 0 || q.size(1) % k.size(1) != 0 ||
      past < 0 || k.size(2) != past + q.size(2) || key_mask.size(0) != q.size(0) ||
      key_mask.size(1) != k.size(2) || k.size(2) >= (int64_t{1} << 31)) {
    return at::Tensor();
  }
  at::Tensor out = at::empty({q.size(0), q.size(2), q.size(1) * q.size(3)}, q.options());
  if (out.numel() == 0) return out;
  if (t == at::kFloat) {
    Attend<float>(q, k, v, key_mask, past, scale, out);
  } else {
    Attend<c10::BFloat16>(q, k, v, key_mask, past, scale, out);
  }
  return out;
#else
  (void)q, (void)k, (void)v, (void)key_mask, (void)past, (void)scale;
  return at::Tensor();
#endif
}

}  // namespace llmq
