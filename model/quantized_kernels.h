// CPU kernels behind QuantizedLinear::Forward, over raw pointers into its packed tensors.
//
//   FusedMatmul      few input rows (decode, short prompts): reads the packed bytes and
//                    accumulates dot products directly, one output row at a time, never
//                    materialising W. Each weight row is unpacked once for all input rows.
//                    y[r, o] = sum_g s[o,g] * sum_{c in g} (q[o,c] - z[o,g]) x[r,c]
//                    On CPUs with AVX512-BF16 (bfloat16 activations), one input row
//                    multiplies in bfloat16 (x and W rounded as by MatmulBf16; GemvBf16
//                    below), 2..kFusedMaxRows rows in VDPBF16PS tiles (FusedRowsBf16).
//   DequantizeRows   many input rows (prefill): a tile of W rows in the compute dtype,
//                    for a GEMM by the caller.
//   MatmulFloat32Amx float32 activations, 2 and more input rows, on CPUs with AMX: the
//                    same products in bfloat16 tiles, exact (x split in three parts).
//   MatmulBf16       2 and more input rows on CPUs with AMX (bfloat16 tiles): x rounded to
//                    bfloat16 once per call, W dequantized block by block to bfloat16 (each
//                    weight once per call), products summed in float32
//                    (model/quantized_kernels_bf16.cc).
//
// All parallelise over output rows with ParallelFor (model/parallel.h). Rows without per-column g_idx,
// of any width 2..8, take an AVX-512 or AVX2 (+BMI2) path when the CPU has it (runtime
// cpuid); per-column g_idx and other CPUs a portable path that g++ -O2 vectorises.
#ifndef LLMQ_MODEL_QUANTIZED_KERNELS_H_
#define LLMQ_MODEL_QUANTIZED_KERNELS_H_

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "model/fp8.h"
#include "model/packed_decode.h"

namespace llmq {

// A read-only view of a QuantizedLinear's CPU tensors.
struct PackedWeights : PackedShape {
  const uint8_t* codes = nullptr;     // (out, code_row_bytes)
  const c10::Half* scales = nullptr;  // (out, groups)
  const uint8_t* zeros = nullptr;     // (out, zero_row_bytes)
  const int32_t* g_idx = nullptr;     // (in) or null: column c is in group c / group_size
};

// A read-only view of an Fp8Linear's CPU tensors (model/fp8_linear.h):
// W[o, c] = scales[per_channel ? o : 0] * decode(codes[o, c]), every code finite.
struct Fp8Weights {
  const uint8_t* codes = nullptr;  // (out, in)
  const float* scales = nullptr;   // (out) per channel, else (1)
  bool per_channel = false;
  Fp8Format format = Fp8Format::kE4M3;
  int64_t in = 0, out = 0;
};

// Most input rows FusedMatmul takes at once; more go through DequantizeRows + GEMM.
// (Measured by scripts/bench linear on 2 cores: the fused path beats dequantize + GEMM
// up to here.)
constexpr int64_t kFusedMaxRows = 16;

// y (rows, out) = x (rows, in) W^T, float32, row-major and contiguous; rows <= kFusedMaxRows.
void FusedMatmul(const PackedWeights& w, const float* x, int64_t rows, float* y);

// y (rows, out) = x (rows, in) W^T in float32 for many rows (prefill): W dequantized to
// float32 (as DequantizeRows does) 32 rows x 128 columns at a time into an L1-sized panel,
// multiplied by a register-blocked AVX-512 micro-kernel (model/quantized_kernels_x86.cc);
// threads split the output panels, or the input rows where W has few panels. Returns
// false, doing nothing, without AVX-512 (SetFusedKernelForTesting below "avx512"
// included) and for per-column g_idx; the caller then dequantizes tiles for a BLAS GEMM.
bool GemmFloat32(const PackedWeights& w, const float* x, int64_t rows, float* y);

// y (rows, out) = x (rows, in) W^T in float32 for FP8 weights on AVX-512, parallel over
// output rows: one input row straight from the codes, up to kFusedMaxRows in the register
// tiles of FusedMatmul, more through GemmFloat32's panel GEMM, each W row decoded to
// float32 as scale * decode(code), the value Fp8Linear::DequantizedWeight holds. Where
// AmxFloat32Takes the product, it goes to the tiles as packed layers' do: x split in three
// bfloat16 parts, decode(code) exact in bfloat16, each 128 columns' float32 sum times the
// row's scale. Returns false, doing nothing, without AVX-512 (SetFusedKernelForTesting
// below "avx512" included).
bool Fp8MatmulFloat32(const Fp8Weights& w, const float* x, int64_t rows, float* y);
// dst (r1 - r0, in) = W[r0:r1, :] in T (float, c10::BFloat16 or c10::Half).
template <typename T>
void DequantizeRows(const PackedWeights& w, int64_t r0, int64_t r1, T* dst);

// y (rows, out) = x (rows, in) W^T, float32 in and out, x and W rounded to bfloat16 (so
// each product has a relative error of at most 2^-7 + 2^-16; sums in float32). Returns
// false, doing nothing, where the CPU or OS lacks AMX-BF16, where SetFusedKernelForTesting
// restricts the kernels below "bf16", and for per-column g_idx.
bool MatmulBf16(const PackedWeights& w, const float* x, int64_t rows, float* y);
// Whether MatmulBf16 runs (for weights without per-column g_idx).
bool MatmulBf16Available();

// y (rows, out) = x (rows, in) W^T in float32 on AMX tiles, exactly the float32 kernels'
// products: x split into three bfloat16 parts that sum to it, W's tiles the integers
// q - z, each group's sum scaled once (model/quantized_kernels_bf16.cc); only the order
// of the float32 sums differs from FusedMatmul / GemmFloat32, so it runs under
// ScopedFloat32Kernels too. Returns false, doing nothing, where the CPU or OS lacks
// AMX-BF16, where SetFusedKernelForTesting restricts the kernels below "bf16", for
// per-column g_idx and for groups not of a multiple of 32 columns.
bool MatmulFloat32Amx(const PackedWeights& w, const float* x, int64_t rows, float* y);
// Whether MatmulFloat32Amx runs (for weights it takes).
bool MatmulFloat32AmxAvailable();
// The products QuantizedLinear::Forward gives MatmulFloat32Amx: at least this many input
// rows and multiply-adds (smaller ones cost more in dequantizing W to bfloat16, splitting
// x and handing work to threads than the tiles save: 512 x 64 x 64 took 169 us there, 39
// on the AVX-512 GEMM; 4 x 1024 x 1024 254 / 136 us; 4096 x 64 x 64 about even).
constexpr int64_t kAmxFloat32MinRows = 2;
constexpr int64_t kAmxFloat32MinMacs = int64_t{1} << 24;
// Whether a float32 product of x (rows, in) and W (out, in) goes to the tiles: the
// thresholds above on a CPU where MatmulFloat32AmxAvailable (packed and FP8 layers alike).
bool AmxFloat32Takes(int64_t rows, int64_t in, int64_t out);

// Which fused path this CPU takes (for the shapes it takes): "avx512_bf16" (one row in
// bfloat16, GemvBf16 below), "avx512", "avx2" or "portable".
const char* FusedKernelName();
// Which path 2 and more input rows take: "amx_bf16", else FusedKernelName().
const char* BatchedKernelName();
// Whether GemmFloat32 runs (for weights without per-column g_idx).
bool GemmFloat32Available();

// While one is alive, packed linears called from this thread compute in float32: no
// bfloat16 units (AMX, AVX512-BF16), whatever the CPU has. The quantizers hold one while
// they calibrate, so that the inputs the layers already quantized pass on to the later
// ones, and so the codes a calibrated method exports, are the same on every CPU (with the
// bfloat16 kernels, GPTQ on a tiny model chose 920 of its codes differently). Nests.
class ScopedFloat32Kernels {
 public:
  ScopedFloat32Kernels();
  ~ScopedFloat32Kernels();
  ScopedFloat32Kernels(const ScopedFloat32Kernels&) = delete;
  ScopedFloat32Kernels& operator=(const ScopedFloat32Kernels&) = delete;
};

// Tests: restricts the fused path (and the dense GEMV, model/gemv.h) to `name` ("bf16":
// the bfloat16 units, "avx512", "avx2", "portable"; "" = best the CPU has). A path the CPU lacks falls back to
// the next one down. Not thread-safe.
void SetFusedKernelForTesting(const char* name);

namespace internal {
// The x86 kernels (quantized_kernels_x86.cc). FusedRows* compute y[r, o] for output rows
// [o0, o1) and all input rows r < rows, from x (rows, in) and per-thread scratch qbuf
// (in), zbuf (groups), sbuf (groups); y is (rows, out). Plain groups only (w.g_idx null). Return false when the CPU lacks the
// instructions.
bool FusedRowsAvx512(const PackedWeights& w, const float* x, int64_t rows,
                     int64_t o0, int64_t o1, uint8_t* qbuf, uint8_t* zbuf, float* sbuf, float* y);
bool FusedRowsAvx2(const PackedWeights& w, const float* x, int64_t rows,
                   int64_t o0, int64_t o1, uint8_t* qbuf, uint8_t* zbuf, float* sbuf, float* y);
// y[o] for output rows [o0, o1) of one input row with x and W rounded to bfloat16 as in
// MatmulBf16, on the float32 table kernel; only where TableGemvBf16Applies: AVX-512, 2-,
// 3- and 4-bit codes (2 and 3 bits with AVX512-VBMI) in plain groups of a multiple of 128
// columns.
bool TableGemvBf16Applies(const PackedWeights& w);
void TableGemvBf16Avx512(const PackedWeights& w, const float* x, int64_t o0, int64_t o1,
                         float* y);
// y[r, o] for output rows [o0, o1) and all input rows r < rows, as a GEMM over 32-row
// panels of W dequantized to float32 (the prefill path, GemmFloat32 below). Plain groups
// only; false when the CPU lacks AVX-512.
bool GemmRowsAvx512(const PackedWeights& w, const float* x, int64_t rows, int64_t o0,
                    int64_t o1, float* y);
// Fp8MatmulFloat32 for output rows [o0, o1): Fp8RowsAvx512 for rows <= kFusedMaxRows,
// Fp8GemmRowsAvx512 for any. False when the CPU lacks AVX-512.
bool Fp8RowsAvx512(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0, int64_t o1,
                   float* y);
bool Fp8GemmRowsAvx512(const Fp8Weights& w, const float* x, int64_t rows, int64_t o0,
                       int64_t o1, float* y);
// Row o of an FP8 layer for the AMX tiles: dst (kpad words) the bfloat16 values of
// decode(code) / f (exact: at most four significant bits), zeros past `in`; returns the
// row's scale times f, what its sums are multiplied by. Call only when HasAvx512().
float Fp8RowToBf16(const Fp8Weights& w, int64_t o, int64_t kpad, uint16_t* dst);
// Fp8MatmulFloat32 on the AMX tiles, x split in three bfloat16 parts as in MatmulAmxSplit
// (every product exact, float32 sums, each chunk's sum times the row's scale); false
// where the CPU or OS lacks AMX-BF16.
bool Fp8MatmulAmxSplit(const Fp8Weights& w, const float* x, int64_t rows, float* y);
// UnpackRow(packed, bits, 0, n, out) of a row of packed_bytes bytes, vectorised (AVX2 +
// BMI2; widths other than 4 and 8 with AVX512-VBMI where the CPU has it and
// SetFusedKernelForTesting allows AVX-512); call only when HasAvx2().
void UnpackCodesX86(const uint8_t* packed, int64_t packed_bytes, int bits, int64_t n,
                    uint8_t* out);
bool HasAvx512();
bool HasAvx2();
// n float16 values to float32, 16 at a time with vcvtph2ps; call only when HasAvx512().
void HalfToFloat512(const c10::Half* h, int64_t n, float* out);
// AMX-BF16 and AVX512-BF16 on the CPU, and the OS's permission to use the tiles.
// (HasAvx512Bf16: AVX512-BF16 alone.)
bool HasAmxBf16();
bool HasAvx512Bf16();
// AMX-INT8 as well (every AMX CPU so far has both), with the same permission.
bool HasAmxInt8();
// y (out) = W x for one input row on AVX512-BF16 (x and W rounded to bfloat16 as in
// MatmulBf16). Returns false, doing nothing, where the CPU lacks it, for per-column g_idx,
// widths above 5 bits, and shapes it does not take (in and the group size multiples of 32;
// one group per row counts as a multiple).
bool GemvBf16(const PackedWeights& w, const float* x, float* y);
// y (rows, out) = x W^T for 2..kFusedMaxRows input rows on AVX512-BF16 (x and W rounded to
// bfloat16 as in MatmulBf16, VDPBF16PS register tiles), for CPUs without AMX. Returns
// false, doing nothing, where the CPU lacks it and for per-column g_idx.
bool FusedRowsBf16(const PackedWeights& w, const float* x, int64_t rows, float* y);
// Row o of W as DequantizeRows<c10::BFloat16> computes it (bfloat16 of the float32
// weight, round to nearest even), vectorised on AVX512-BF16; qbuf (in + 64 bytes) and zbuf
// (groups + 64) scratch. False, doing nothing, without it or for per-column g_idx.
bool DequantizeRowToBf16(const PackedWeights& w, int64_t o, uint8_t* qbuf, uint8_t* zbuf,
                         c10::BFloat16* out);
// MatmulBf16 without the SetFusedKernelForTesting check.
bool MatmulAmxBf16(const PackedWeights& w, const float* x, int64_t rows, float* y);
// MatmulFloat32Amx without the SetFusedKernelForTesting check: false, doing nothing,
// without AMX-BF16, for per-column g_idx and for groups not of a multiple of 32 columns.
bool MatmulAmxSplit(const PackedWeights& w, const float* x, int64_t rows, float* y);
// How far ahead of its reads a one-row kernel prefetches a row's codes: into L1 (the next
// row of a 4096-wide 4-bit layer) and into L2 (four rows on, across the 4 KB pages where
// the hardware's stream prefetch stops). Measured on the float32 table kernel: a cold
// 4096 x 4096 int4 layer on two Zen 4 cores 700-740 -> 525 us (L1), then 413-448 ->
// 341-362 us (L2); 16 and 32 KB ahead were no better.
constexpr int64_t kRowPrefetch = 2048;
constexpr int64_t kRowPrefetchL2 = 8192;
// Output rows per parallel task of the row-parallel kernels: at least ~32k weights each,
// so that small layers (and the per-task buffers) do not pay for a thread hand-off that
// costs more than the work.
int64_t RowGrain(int64_t in);
// What the CPU has, limited by SetFusedKernelForTesting: 3 bfloat16 units (AMX or
// AVX512-BF16, with AVX-512), 2 AVX-512, 1 AVX2, 0 portable.
int KernelLevel();
}  // namespace internal

}  // namespace llmq

#endif  // LLMQ_MODEL_QUANTIZED_KERNELS_H_
