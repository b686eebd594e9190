#include "model/quantized_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <string>
#include <vector>

#include "model/packing.h"
#include "model/vector_loops.h"

namespace llmq {
namespace {

// Set by SetFusedKernelForTesting: 2 = any, 1 = AVX2 at most, 0 = portable only.
int g_max_kernel = 2;

bool UseAvx512() { return g_max_kernel >= 2 && internal::HasAvx512(); }
bool UseAvx2() { return g_max_kernel >= 1 && internal::HasAvx2(); }

// Output rows per parallel task: enough work per task to amortise the per-task buffers.
constexpr int64_t kRowGrain = 16;

// Row o of W as float32 into out[0, in). qbuf holds `in` codes, zbuf `groups` zeros.
void DequantizeRowF32(const PackedWeights& w, int64_t o, uint8_t* qbuf, uint8_t* zbuf,
                      float* sbuf, float* out) {
  UnpackRow(w.codes + o * w.code_row_bytes, w.bits, 0, w.in, qbuf);
  UnpackRow(w.zeros + o * w.zero_row_bytes, w.bits, 0, w.groups, zbuf);
  const c10::Half* srow = w.scales + o * w.groups;
  for (int64_t g = 0; g < w.groups; ++g) sbuf[g] = static_cast<float>(srow[g]);
  if (w.g_idx != nullptr) {
    DequantizeByIndex(qbuf, sbuf, zbuf, w.g_idx, w.in, out);
  } else {
    DequantizeByGroup(qbuf, sbuf, zbuf, w.in, w.group_size, out);
  }
}

void FusedPortable(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  at::parallel_for(0, w.out, kRowGrain, [&](int64_t o0, int64_t o1) {
    std::vector<uint8_t> qbuf(w.in), zbuf(w.groups);
    std::vector<float> sbuf(w.groups), row(w.in);
    for (int64_t o = o0; o < o1; ++o) {
      DequantizeRowF32(w, o, qbuf.data(), zbuf.data(), sbuf.data(), row.data());
      for (int64_t r = 0; r < rows; ++r) y[r * w.out + o] = DotF32(row.data(), x + r * w.in, w.in);
    }
  });
}

// The x86 4-bit path: x deinterleaved into even and odd columns (so that a packed byte's
// low and high nibbles meet contiguous x), group sums precomputed, then the kernel.
bool FusedX86(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  const bool avx512 = UseAvx512();
  if (w.bits != 4 || w.g_idx != nullptr || (!avx512 && !UseAvx2())) return false;
  const int64_t half = (w.in + 1) / 2;
  std::vector<float> even(rows * half, 0.0f), odd(rows * half, 0.0f);  // (rows, half) each
  std::vector<float> xsum(rows * w.groups, 0.0f);                      // (rows, groups)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * w.in;
    for (int64_t c = 0; c < w.in; ++c) {
      (c % 2 ? odd : even)[r * half + c / 2] = xr[c];
      xsum[r * w.groups + c / w.group_size] += xr[c];
    }
  }
  for (int64_t r0 = 0; r0 < rows; r0 += 4) {
    const int n = static_cast<int>(std::min<int64_t>(4, rows - r0));
    const float* xe[4];
    const float* xo[4];
    for (int k = 0; k < n; ++k) {
      xe[k] = even.data() + (r0 + k) * half;
      xo[k] = odd.data() + (r0 + k) * half;
    }
    const float* xs = xsum.data() + r0 * w.groups;
    float* yr = y + r0 * w.out;
    at::parallel_for(0, w.out, kRowGrain, [&](int64_t o0, int64_t o1) {
      if (avx512) {
        internal::Fused4BitAvx512(w, xe, xo, xs, n, o0, o1, yr);
      } else {
        internal::Fused4BitAvx2(w, xe, xo, xs, n, o0, o1, yr);
      }
    });
  }
  return true;
}

}  // namespace

void FusedMatmul(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (FusedX86(w, x, rows, y)) return;
  FusedPortable(w, x, rows, y);
}

template <typename T>
void DequantizeRows(const PackedWeights& w, int64_t r0, int64_t r1, T* dst) {
  at::parallel_for(r0, r1, kRowGrain, [&](int64_t a, int64_t b) {
    std::vector<uint8_t> qbuf(w.in), zbuf(w.groups);
    std::vector<float> sbuf(w.groups), row(w.in);
    for (int64_t o = a; o < b; ++o) {
      T* out = dst + (o - r0) * w.in;
      if constexpr (std::is_same_v<T, float>) {
        DequantizeRowF32(w, o, qbuf.data(), zbuf.data(), sbuf.data(), out);
      } else {
        DequantizeRowF32(w, o, qbuf.data(), zbuf.data(), sbuf.data(), row.data());
        ConvertFloats(row.data(), w.in, out);
      }
    }
  });
}

template void DequantizeRows<float>(const PackedWeights&, int64_t, int64_t, float*);
template void DequantizeRows<c10::BFloat16>(const PackedWeights&, int64_t, int64_t,
                                            c10::BFloat16*);
template void DequantizeRows<c10::Half>(const PackedWeights&, int64_t, int64_t, c10::Half*);

const char* FusedKernelName() {
  if (UseAvx512()) return "avx512";
  if (UseAvx2()) return "avx2";
  return "portable";
}

void SetFusedKernelForTesting(const char* name) {
  const std::string n = name;
  g_max_kernel = n == "portable" ? 0 : n == "avx2" ? 1 : 2;
}

}  // namespace llmq
