#include "model/quantized_kernels.h"

#include <algorithm>
#include <string>
#include <vector>

#include "model/packing.h"
#include "model/parallel.h"
#include "model/vector_loops.h"

namespace llmq {
namespace {

// Set by SetFusedKernelForTesting: 3 = any (bfloat16 units included), 2 = AVX-512 float32, 1 = AVX2
// at most, 0 = portable only.
int g_max_kernel = 3;
// ScopedFloat32Kernels alive on this thread (the kernels are chosen on the calling thread,
// before ParallelFor hands rows to others).
thread_local int t_float32_scopes = 0;

bool UseBf16Units() { return g_max_kernel >= 3 && t_float32_scopes == 0; }
bool UseAmx() { return UseBf16Units() && internal::HasAmxBf16(); }
bool UseBf16Gemv() { return UseBf16Units() && internal::HasAvx512Bf16(); }
bool UseAvx512() { return g_max_kernel >= 2 && internal::HasAvx512(); }
bool UseAvx2() { return g_max_kernel >= 1 && internal::HasAvx2(); }

// Row `o`'s codes into qbuf (in): vectorised on x86 CPUs that have AVX2.
void UnpackCodeRow(const PackedWeights& w, int64_t o, uint8_t* qbuf) {
  const uint8_t* row = w.codes + o * w.code_row_bytes;
  if (UseAvx2() || UseAvx512()) {
    internal::UnpackCodesX86(row, w.code_row_bytes, w.bits, w.in, qbuf);
  } else {
    UnpackRow(row, w.bits, 0, w.in, qbuf);
  }
}

// Row o of W as float32 into out[0, in). qbuf holds `in` codes, zbuf `groups` zeros.
void DequantizeRowF32(const PackedWeights& w, int64_t o, uint8_t* qbuf, uint8_t* zbuf,
                      float* sbuf, float* out) {
  UnpackCodeRow(w, o, qbuf);
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
  ParallelFor(0, w.out, internal::RowGrain(w.in), [&](int64_t o0, int64_t o1) {
    std::vector<uint8_t> qbuf(w.in), zbuf(w.groups);
    std::vector<float> sbuf(w.groups), row(w.in);
    for (int64_t o = o0; o < o1; ++o) {
      DequantizeRowF32(w, o, qbuf.data(), zbuf.data(), sbuf.data(), row.data());
      for (int64_t r = 0; r < rows; ++r) y[r * w.out + o] = DotF32(row.data(), x + r * w.in, w.in);
    }
  });
}

// The x86 path: each thread its share of the output rows.
bool FusedX86(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  const bool avx512 = UseAvx512();
  if (w.g_idx != nullptr || (!avx512 && !UseAvx2())) return false;
  ParallelFor(0, w.out, internal::RowGrain(w.in), [&](int64_t o0, int64_t o1) {
    std::vector<uint8_t> qbuf(w.in), zbuf(w.groups);
    std::vector<float> sbuf(w.groups);
    if (avx512) {
      internal::FusedRowsAvx512(w, x, rows, o0, o1, qbuf.data(), zbuf.data(),
                                sbuf.data(), y);
    } else {
      internal::FusedRowsAvx2(w, x, rows, o0, o1, qbuf.data(), zbuf.data(),
                              sbuf.data(), y);
    }
  });
  return true;
}

}  // namespace

void FusedMatmul(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (rows == 1 && UseBf16Gemv() && internal::GemvBf16(w, x, y)) return;
  if (rows >= 2 && UseBf16Gemv() && internal::FusedRowsBf16(w, x, rows, y)) return;
  if (FusedX86(w, x, rows, y)) return;
  FusedPortable(w, x, rows, y);
}

bool GemmFloat32Available() { return UseAvx512(); }

namespace {

// The panel GEMM of an (out, in) W over the threads: gemm(x, rows, o0, o1, y) computes
// y[r, o] for o in [o0, o1) of the rows of x it is given.
template <typename GemmRows>
void ParallelGemm(int64_t in, int64_t out, const float* x, int64_t rows, float* y, GemmRows&& gemm) {
  const int64_t panels = (out + 31) / 32;
  if (panels >= 2 * ParallelThreads() || rows < 96) {
    // Threads take output panels: each dequantizes its part of W once (and packs all of x).
    ParallelFor(0, panels, 1, [&](int64_t p0, int64_t p1) {
      gemm(x, rows, p0 * 32, std::min(out, p1 * 32), y);
    });
  } else {
    // Few outputs (a small model's layer): threads take input rows, each dequantizing all
    // of the (small) W, rather than each packing all of x for a panel or two.
    ParallelFor(0, (rows + 47) / 48, 1, [&](int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * 48, r1 = std::min(rows, b1 * 48);
      gemm(x + r0 * in, r1 - r0, 0, out, y + r0 * out);
    });
  }
}

}  // namespace

bool GemmFloat32(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  if (!GemmFloat32Available() || w.g_idx != nullptr) return false;
  ParallelGemm(w.in, w.out, x, rows, y,
               [&](const float* xs, int64_t n, int64_t o0, int64_t o1, float* ys) {
                 internal::GemmRowsAvx512(w, xs, n, o0, o1, ys);
               });
  return true;
}

bool Fp8MatmulFloat32(const Fp8Weights& w, const float* x, int64_t rows, float* y) {
  if (!UseAvx512()) return false;
  if (AmxFloat32Takes(rows, w.in, w.out) && internal::Fp8MatmulAmxSplit(w, x, rows, y)) return true;
  if (rows <= kFusedMaxRows) {
    ParallelFor(0, w.out, internal::RowGrain(w.in), [&](int64_t o0, int64_t o1) {
      internal::Fp8RowsAvx512(w, x, rows, o0, o1, y);
    });
  } else {
    ParallelGemm(w.in, w.out, x, rows, y,
                 [&](const float* xs, int64_t n, int64_t o0, int64_t o1, float* ys) {
                   internal::Fp8GemmRowsAvx512(w, xs, n, o0, o1, ys);
                 });
  }
  return true;
}

template <typename T>
void DequantizeRows(const PackedWeights& w, int64_t r0, int64_t r1, T* dst) {
  const bool bf16_units = std::is_same_v<T, c10::BFloat16> && UseAvx512();
  ParallelFor(r0, r1, internal::RowGrain(w.in), [&](int64_t a, int64_t b) {
    std::vector<uint8_t> qbuf(w.in + 64), zbuf(w.groups + 64);
    std::vector<float> sbuf(w.groups), row(w.in);
    for (int64_t o = a; o < b; ++o) {
      T* out = dst + (o - r0) * w.in;
      if constexpr (std::is_same_v<T, c10::BFloat16>) {
        if (bf16_units && internal::DequantizeRowToBf16(w, o, qbuf.data(), zbuf.data(), out)) continue;
      }
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

bool MatmulBf16(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  return UseAmx() && internal::MatmulAmxBf16(w, x, rows, y);
}

int64_t internal::RowGrain(int64_t in) {
  return std::max<int64_t>(4, (int64_t{1} << 15) / std::max<int64_t>(1, in));
}

int internal::KernelLevel() {
  return UseAmx() || UseBf16Gemv() ? 3 : UseAvx512() ? 2 : UseAvx2() ? 1 : 0;
}

bool MatmulBf16Available() { return UseAmx(); }

bool MatmulFloat32AmxAvailable() { return g_max_kernel >= 3 && internal::HasAmxBf16(); }

bool AmxFloat32Takes(int64_t rows, int64_t in, int64_t out) {
  return rows >= kAmxFloat32MinRows && rows * in * out >= kAmxFloat32MinMacs && MatmulFloat32AmxAvailable();
}

bool MatmulFloat32Amx(const PackedWeights& w, const float* x, int64_t rows, float* y) {
  return MatmulFloat32AmxAvailable() && internal::MatmulAmxSplit(w, x, rows, y);
}

const char* BatchedKernelName() { return UseAmx() ? "amx_bf16" : FusedKernelName(); }

const char* FusedKernelName() {
  if (UseBf16Gemv()) return "avx512_bf16";
  if (UseAvx512()) return "avx512";
  if (UseAvx2()) return "avx2";
  return "portable";
}

ScopedFloat32Kernels::ScopedFloat32Kernels() { ++t_float32_scopes; }
ScopedFloat32Kernels::~ScopedFloat32Kernels() { --t_float32_scopes; }

void SetFusedKernelForTesting(const char* name) {
  const std::string n = name;
  g_max_kernel = n == "portable" ? 0 : n == "avx2" ? 1 : n == "avx512" ? 2 : 3;
}

}  // namespace llmq
