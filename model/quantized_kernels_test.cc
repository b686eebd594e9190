// The packed-weight kernels, each CPU path against independent references: the unpacker
// against the scalar bit-stream reader (exact), the fused products of every width, group
// size and row count against the float64 formula and against the portable path.
#include "model/quantized_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/packing.h"
#include "model/quantized_linear.h"

namespace llmq {
namespace {

// Both vector paths (AVX2 + BMI2 pdep; AVX512-VBMI byte permutes and multishifts where the
// CPU has them) against the scalar unpacking, on row lengths around their 8- and 64-code
// steps.
TEST(QuantizedKernelsTest, VectorUnpackEqualsScalarUnpack) {
  if (!internal::HasAvx2()) GTEST_SKIP() << "no AVX2 + BMI2";
  at::manual_seed(1);
  for (const char* kernel : {"avx2", "avx512"}) {
    SetFusedKernelForTesting(kernel);
    for (int bits = 1; bits <= 8; ++bits) {
      for (int64_t n : {0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 200, 1000, 4096}) {
        const int64_t bytes = PackedBytes(n, bits);
        at::Tensor packed = at::randint(0, 256, {bytes + 1}, at::kLong).to(at::kByte);
        const uint8_t* p = packed.data_ptr<uint8_t>();
        std::vector<uint8_t> want(n + 1, 0xAA), got(n + 1, 0xAA);
        UnpackRow(p, bits, 0, n, want.data());
        internal::UnpackCodesX86(p, bytes, bits, n, got.data());
        EXPECT_EQ(got, want) << kernel << " bits=" << bits << " n=" << n;  // the guard byte too
      }
    }
  }
  SetFusedKernelForTesting("");
}

// A random layer, its float64 weight s * (q - z), and x W^T in float64.
struct Layer {
  std::unique_ptr<QuantizedLinear> q;
  at::Tensor weight;  // (out, in) float64
};

Layer MakeLayer(int bits, int64_t out, int64_t in, int64_t gs, uint64_t seed) {
  at::manual_seed(seed);
  const int64_t groups = gs < 0 ? 1 : (in + gs - 1) / gs;
  at::Tensor codes = at::randint(0, 1 << bits, {out, in}, at::kLong).to(at::kByte);
  at::Tensor scales = at::rand({out, groups}) * 0.05 + 0.001;
  at::Tensor zeros = at::randint(0, 1 << bits, {out, groups}, at::kLong).to(at::kFloat);
  auto made = QuantizedLinear::Create(codes, scales, zeros, at::Tensor(), at::Tensor(), bits, gs, at::kFloat);
  EXPECT_TRUE(made.ok()) << made.status();
  at::Tensor group_of = at::div(at::arange(in, at::kLong), gs < 0 ? in : gs, "floor");
  Layer l;
  l.weight = scales.to(at::kHalf).to(at::kDouble).index_select(1, group_of) *
             (codes.to(at::kDouble) - zeros.to(at::kDouble).index_select(1, group_of));
  l.q = std::move(made).value();
  return l;
}

// |y - ref| <= rtol * |x| |W|^T: float32 rounding over a dot product, whatever the order.
void ExpectNear(const at::Tensor& y, const at::Tensor& ref, const at::Tensor& mag, double rtol,
                const std::string& what) {
  ASSERT_EQ(y.sizes(), ref.sizes()) << what;
  at::Tensor excess = (y.to(at::kDouble) - ref).abs() - rtol * mag - 1e-12;
  EXPECT_LE(excess.max().item<double>(), 0.0)
      << what << ": max |diff| " << (y.to(at::kDouble) - ref).abs().max().item<double>();
}

// (in 64 and 256 with groups -1, 32, 128: the AVX-512 4-bit one-row kernel that reads
// the nibbles in place; other shapes fall back to the unpacking one.)
TEST(QuantizedKernelsTest, EveryPathWidthGroupAndRowCountMatchesFormula) {
  int64_t seed = 0;
  for (int bits : {2, 3, 4, 5, 8}) {
    for (int64_t in : {1, 17, 33, 64, 130, 256, 257}) {
      for (int64_t gs : {-1, 1, 7, 16, 32, 128}) {
        Layer l = MakeLayer(bits, 13, in, gs, ++seed);
        for (int64_t rows : {1, 2, 5, 16}) {
          at::Tensor x = at::randn({rows, in});
          at::Tensor xd = x.to(at::kDouble);
          at::Tensor ref = at::matmul(xd, l.weight.t());
          at::Tensor mag = at::matmul(xd.abs(), l.weight.abs().t());
          at::Tensor portable;
          for (const char* kernel : {"portable", "avx2", "avx512"}) {
            SetFusedKernelForTesting(kernel);
            at::Tensor y = l.q->Forward(x);
            const std::string what = std::string(FusedKernelName()) + " bits=" + std::to_string(bits) +
                                     " in=" + std::to_string(in) + " gs=" + std::to_string(gs) +
                                     " rows=" + std::to_string(rows);
            ExpectNear(y, ref, mag, 1e-5, what);
            if (!portable.defined()) {
              portable = y;
            } else {  // the vector paths equal the scalar one up to float32 summation order
              ExpectNear(y, portable.to(at::kDouble), mag, 2e-5, what + " vs portable");
            }
          }
          SetFusedKernelForTesting("");
        }
      }
    }
  }
}

// Prefill-sized inputs (more than kFusedMaxRows rows) in float32: GemmFloat32 (AVX-512:
// 32-row panels of W, 1024 columns at a time, input rows 512 at a time in 12-row register
// blocks; threads split the panels, or the input rows in blocks of 48 where W has few
// panels and x 96+ rows) and, restricted to AVX2, dequantized tiles + BLAS GEMM. Shapes
// cross every blocking edge but the 1024 columns and 512 rows (the next test): output rows
// around 32, columns around 16, groups that do not divide the columns, row counts that
// leave 1..11 rows for the last register block and 4 for the last 48-row block.
TEST(QuantizedKernelsTest, PrefillPathsMatchFormula) {
  // Two threads whatever the machine, so that both splits hand out more than one chunk.
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  int64_t seed = 100;
  for (const char* kernel : {"avx512", "avx2"}) {
    SetFusedKernelForTesting(kernel);
    for (int bits : {2, 3, 4, 5, 8}) {
      for (int64_t out : {1, 31, 33, 70}) {
        for (int64_t in : {1, 17, 256, 300, 600}) {
          for (int64_t gs : {-1, 7, 128, 200}) {
            Layer l = MakeLayer(bits, out, in, gs, ++seed);
            for (int64_t rows : {kFusedMaxRows + 1, kFusedMaxRows + 9, int64_t{37}, int64_t{100}}) {
              at::Tensor x = at::randn({rows, in});
              at::Tensor xd = x.to(at::kDouble);
              ExpectNear(l.q->Forward(x), at::matmul(xd, l.weight.t()),
                         at::matmul(xd.abs(), l.weight.abs().t()), 1e-5,
                         std::string(kernel) + " bits=" + std::to_string(bits) +
                             " out=" + std::to_string(out) + " in=" + std::to_string(in) +
                             " gs=" + std::to_string(gs) + " rows=" + std::to_string(rows));
            }
          }
        }
      }
    }
  }
  SetFusedKernelForTesting("");
  at::set_num_threads(threads);
}

// The AVX-512 prefill GEMM's column blocks (1024) and row blocks (512): widths past one and
// two column blocks (not multiples of 16, groups straddling the block edge) and row counts
// past one and two row blocks, each with a partial last register block.
TEST(QuantizedKernelsTest, PrefillGemmAcrossColumnAndRowBlocks) {
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  SetFusedKernelForTesting("avx512");
  int64_t seed = 700;
  for (int bits : {3, 4, 8}) {
    for (int64_t in : {int64_t{1100}, int64_t{2070}}) {
      for (int64_t gs : {int64_t{128}, int64_t{200}}) {
        Layer l = MakeLayer(bits, 40, in, gs, ++seed);
        for (int64_t rows : {int64_t{530}, int64_t{1031}}) {
          at::Tensor x = at::randn({rows, in});
          at::Tensor xd = x.to(at::kDouble);
          ExpectNear(l.q->Forward(x), at::matmul(xd, l.weight.t()), at::matmul(xd.abs(), l.weight.abs().t()),
                     1e-5, "bits=" + std::to_string(bits) + " in=" + std::to_string(in) + " gs=" +
                               std::to_string(gs) + " rows=" + std::to_string(rows));
        }
      }
    }
  }
  SetFusedKernelForTesting("");
  at::set_num_threads(threads);
}

// The bfloat16 path (AMX) against the float64 formula, in two ways:
//   exact inputs  scales powers of two and x values bfloat16 numbers, so that every weight
//                 s (q - z) and every x is exact in bfloat16 and every product exact in
//                 float32: only the float32 sums round, and the bound is the float32 one
//                 (1e-5 |x| |W|^T) -- a wrong index, a lost column or group shows;
//   any inputs    x and W each rounded to bfloat16 (8 significant bits: relative error
//                 <= 2^-8 each), so each product is off by at most (1 + 2^-8)^2 - 1 =
//                 2^-7 + 2^-16 of itself, and the float32 sums add their 1e-5:
//                 |y - ref| <= (2^-7 + 2e-5) |x| |W|^T.
// Shapes: rows 1 to 130 (partial tiles of 16 and 32), columns not a multiple of 32, groups
// that do not divide the columns, output rows not a multiple of 32.
struct Bf16Case {
  int bits;
  int64_t out, in, gs;
};

Layer MakeLayerWithScales(int bits, int64_t out, int64_t in, int64_t gs, const at::Tensor& scales,
                          uint64_t seed) {
  at::manual_seed(seed);
  const int64_t groups = scales.size(1);
  at::Tensor codes = at::randint(0, 1 << bits, {out, in}, at::kLong).to(at::kByte);
  at::Tensor zeros = at::randint(0, 1 << bits, {out, groups}, at::kLong).to(at::kFloat);
  auto made = QuantizedLinear::Create(codes, scales, zeros, at::Tensor(), at::Tensor(), bits, gs, at::kFloat);
  EXPECT_TRUE(made.ok()) << made.status();
  at::Tensor group_of = at::div(at::arange(in, at::kLong), gs < 0 ? in : gs, "floor");
  Layer l;
  l.weight = scales.to(at::kHalf).to(at::kDouble).index_select(1, group_of) *
             (codes.to(at::kDouble) - zeros.to(at::kDouble).index_select(1, group_of));
  l.q = std::move(made).value();
  return l;
}

// The layer's CPU view, as Forward builds it (plain groups, no column order).
PackedWeights ViewOf(const QuantizedLinear& q) {
  PackedWeights w;
  w.codes = q.packed_codes().data_ptr<uint8_t>();
  w.scales = q.scales().data_ptr<c10::Half>();
  w.zeros = q.packed_zeros().data_ptr<uint8_t>();
  w.bits = q.bits();
  w.in = q.in_features();
  w.out = q.out_features();
  w.groups = q.scales().size(1);
  w.group_size = q.group_size() < 0 ? w.in : q.group_size();
  w.code_row_bytes = q.packed_codes().size(1);
  w.zero_row_bytes = q.packed_zeros().size(1);
  return w;
}

// x W^T through `matmul` (MatmulBf16 or internal::FusedRowsBf16) directly.
using Bf16Matmul = bool (*)(const PackedWeights&, const float*, int64_t, float*);
at::Tensor Bf16MatmulOf(const QuantizedLinear& q, const at::Tensor& x, Bf16Matmul matmul) {
  at::Tensor y = at::full({x.size(0), q.out_features()}, std::nan(""), at::kFloat);
  const PackedWeights w = ViewOf(q);
  at::Tensor xc = x.contiguous();
  EXPECT_TRUE(matmul(w, xc.data_ptr<float>(), x.size(0), y.data_ptr<float>()));
  return y;
}

// x W^T through MatmulBf16 directly (any row count, 1 included).
at::Tensor MatmulBf16Of(const QuantizedLinear& q, const at::Tensor& x) { return Bf16MatmulOf(q, x, MatmulBf16); }

const std::vector<Bf16Case>& Bf16Cases() {
  static const std::vector<Bf16Case> cases = {
      {4, 45, 300, 128}, {4, 70, 37, 20}, {4, 33, 130, -1}, {4, 64, 256, 32},
      {3, 45, 300, 128}, {3, 17, 65, 7},  {2, 45, 300, 128}, {2, 50, 31, 16},
      {8, 45, 300, 128}, {8, 40, 97, 32}, {5, 20, 130, 64},
      // columns and groups in whole 32s and 64s: the paths that read codes in place
      {4, 40, 384, 128}, {4, 24, 192, -1}, {4, 33, 128, 64}, {3, 45, 256, 128},
      {3, 20, 96, -1},   {2, 40, 320, 64},  {8, 33, 192, -1}, {6, 20, 128, 32},
      {7, 17, 64, 32},   {5, 18, 160, 32},
  };
  return cases;
}

TEST(QuantizedKernelsTest, MatmulBf16ExactOnBf16Inputs) {
  if (!MatmulBf16Available()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  int64_t seed = 900;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    at::manual_seed(++seed);
    at::Tensor scales = at::pow(2.0, -at::randint(3, 9, {c.out, groups}, at::kLong).to(at::kDouble)).to(at::kFloat);
    Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, scales, seed);
    for (int64_t rows : {1, 2, 3, 16, 17, 64, 130}) {
      at::Tensor x = at::randn({rows, c.in}).to(at::kBFloat16).to(at::kFloat);
      at::Tensor xd = x.to(at::kDouble);
      const std::string what = "bits=" + std::to_string(c.bits) + " out=" + std::to_string(c.out) +
                               " in=" + std::to_string(c.in) + " gs=" + std::to_string(c.gs) +
                               " rows=" + std::to_string(rows);
      at::Tensor ref = at::matmul(xd, l.weight.t());
      at::Tensor mag = at::matmul(xd.abs(), l.weight.abs().t());
      ExpectNear(MatmulBf16Of(*l.q, x), ref, mag, 1e-5, what);
      ExpectNear(l.q->Forward(x), ref, mag, 1e-5, what + " Forward");  // GemvBf16 at 1 row
    }
  }
}

TEST(QuantizedKernelsTest, MatmulBf16WithinBf16RoundingOfFormula) {
  if (!MatmulBf16Available()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  int64_t seed = 1000;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    at::manual_seed(++seed);
    Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, at::rand({c.out, groups}) * 0.05 + 0.001, seed);
    for (int64_t rows : {1, 2, 3, 16, 17, 64, 130}) {
      at::Tensor x = at::randn({rows, c.in});
      at::Tensor xd = x.to(at::kDouble);
      at::Tensor ref = at::matmul(xd, l.weight.t());
      at::Tensor mag = at::matmul(xd.abs(), l.weight.abs().t());
      const std::string what = "bits=" + std::to_string(c.bits) + " in=" + std::to_string(c.in) +
                               " gs=" + std::to_string(c.gs) + " rows=" + std::to_string(rows);
      ExpectNear(MatmulBf16Of(*l.q, x), ref, mag, 1.0 / 128 + 2e-5, what);
      ExpectNear(l.q->Forward(x), ref, mag, 1.0 / 128 + 2e-5, what + " Forward");
    }
  }
}

// 2-16 rows on AVX512-BF16 without AMX (internal::FusedRowsBf16, VDPBF16PS tiles): exact
// where x and W are bfloat16 already (power-of-two scales, x rounded beforehand), within
// bfloat16 rounding of the formula otherwise; and what Forward takes for bfloat16
// activations on such CPUs.
TEST(QuantizedKernelsTest, FusedRowsBf16MatchesFormula) {
  if (!internal::HasAvx512Bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  int64_t seed = 2000;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    for (bool exact : {true, false}) {
      at::manual_seed(++seed);
      at::Tensor scales = exact ? at::pow(2.0, -at::randint(3, 9, {c.out, groups}, at::kLong).to(at::kDouble)).to(at::kFloat)
                                : at::rand({c.out, groups}) * 0.05 + 0.001;
      Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, scales, seed);
      for (int64_t rows : {2, 3, 5, 16}) {
        at::Tensor x = at::randn({rows, c.in});
        if (exact) x = x.to(at::kBFloat16).to(at::kFloat);
        at::Tensor xd = x.to(at::kDouble);
        at::Tensor ref = at::matmul(xd, l.weight.t());
        at::Tensor mag = at::matmul(xd.abs(), l.weight.abs().t());
        const std::string what = std::string(exact ? "exact" : "rounded") + " bits=" + std::to_string(c.bits) +
                                 " in=" + std::to_string(c.in) + " gs=" + std::to_string(c.gs) +
                                 " rows=" + std::to_string(rows);
        ExpectNear(Bf16MatmulOf(*l.q, x, internal::FusedRowsBf16), ref, mag, exact ? 1e-5 : 1.0 / 128 + 2e-5, what);
        if (!exact && !MatmulBf16Available()) {
          at::Tensor yb = l.q->Forward(x.to(at::kBFloat16)).to(at::kDouble);
          ExpectNear(yb, ref, mag, 1.0 / 64, what + " Forward bf16");
        }
      }
    }
  }
}

// Float32 inputs on AMX (internal::MatmulAmxSplit: x split into three bfloat16 parts, W's
// tiles q - z, the scale per group): the float32 kernels' formula with float32 sums, so
// within the float32 bound of the float64 formula on any x (not only bfloat16 numbers),
// any scales, every width, ragged rows, columns and output rows; groups of 32s only.
TEST(QuantizedKernelsTest, MatmulAmxSplitIsFloat32Exact) {
  if (!internal::HasAmxBf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  int64_t seed = 2700;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    at::manual_seed(++seed);
    Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, at::rand({c.out, groups}) * 0.05 + 0.001, seed);
    const PackedWeights w = ViewOf(*l.q);
    const bool takes = c.gs < 0 || c.gs % 32 == 0;
    for (int64_t rows : {1, 2, 3, 16, 17, 33, 64, 130}) {
      at::Tensor x = at::randn({rows, c.in}) * at::pow(10.0, at::randint(-3, 4, {rows, c.in}).to(at::kDouble)).to(at::kFloat);
      at::Tensor xd = x.to(at::kDouble);
      at::Tensor y = at::full({rows, c.out}, std::nan(""), at::kFloat);
      const std::string what = "bits=" + std::to_string(c.bits) + " out=" + std::to_string(c.out) +
                               " in=" + std::to_string(c.in) + " gs=" + std::to_string(c.gs) +
                               " rows=" + std::to_string(rows);
      ASSERT_EQ(internal::MatmulAmxSplit(w, x.data_ptr<float>(), rows, y.data_ptr<float>()), takes) << what;
      if (!takes) break;
      ExpectNear(y, at::matmul(xd, l.weight.t()), at::matmul(xd.abs(), l.weight.abs().t()), 1e-5, what);
    }
  }
}

// The split carries all of x: with one weight of +-1 per output row (the others q = z)
// and power-of-two scales, every product and every partial sum is exact, so y is s * x
// bit for bit: a lost third part (off by 2^-17 of x) or a wrong column shows.
TEST(QuantizedKernelsTest, MatmulAmxSplitCarriesEveryBitOfX) {
  if (!internal::HasAmxBf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  const int64_t out = 40, in = 96, gs = 32, rows = 20;
  at::manual_seed(7);
  at::Tensor zeros = at::randint(1, 15, {out, in / gs}, at::kLong);
  at::Tensor col = at::randint(0, in, {out}, at::kLong);
  at::Tensor sign = at::randint(0, 2, {out}, at::kLong) * 2 - 1;
  at::Tensor codes = zeros.repeat_interleave(gs, 1).clone();  // q = z everywhere
  for (int64_t o = 0; o < out; ++o) {
    const int64_t c = col[o].item<int64_t>();
    codes[o][c] = codes[o][c] + sign[o];
  }
  at::Tensor scales = at::pow(2.0, -at::randint(0, 6, {out, in / gs}, at::kLong).to(at::kDouble)).to(at::kFloat);
  auto made = QuantizedLinear::Create(codes.to(at::kByte), scales, zeros.to(at::kFloat), at::Tensor(), at::Tensor(), 4, gs, at::kFloat);
  ASSERT_TRUE(made.ok()) << made.status();
  const PackedWeights w = ViewOf(*made.value());
  at::Tensor x = at::randn({rows, in});
  at::Tensor y = at::empty({rows, out}, at::kFloat);
  ASSERT_TRUE(internal::MatmulAmxSplit(w, x.data_ptr<float>(), rows, y.data_ptr<float>()));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t c = col[o].item<int64_t>();
    at::Tensor expected = x.select(1, c) * (scales[o][c / gs] * sign[o].item<int64_t>());
    EXPECT_TRUE(y.select(1, o).equal(expected)) << "output " << o << ": max |diff| "
                                                 << (y.select(1, o) - expected).abs().max().item<float>();
  }
}

// One input row on the bfloat16 units (internal::GemvBf16: 2-4 bits in groups of 128s on
// the float32 table kernel with its table and x rounded, other shapes up to 5 bits with
// VDPBF16PS) is the product of x and W each rounded to bfloat16, summed in float32: against
// that product in float64 within the float32 bound, on every width and shape it takes
// (the cases in 128s take the table kernel; 8 and 6 bits decline).
TEST(QuantizedKernelsTest, GemvBf16IsTheProductOfRoundedXAndW) {
  if (!internal::HasAvx512Bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  int64_t seed = 2500;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    at::manual_seed(++seed);
    Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, at::rand({c.out, groups}) * 0.05 + 0.001, seed);
    at::Tensor x = at::randn({1, c.in}) * 3;
    x[0][0] = 1e-39f;  // subnormal: VCVTNEPS2BF16 makes it 0
    const at::Tensor wr = l.weight.to(at::kFloat).to(at::kBFloat16).to(at::kDouble);
    const at::Tensor xr = x.where(x.abs() >= 1e-38, at::zeros_like(x)).to(at::kBFloat16).to(at::kDouble);
    const std::string what = "bits=" + std::to_string(c.bits) + " out=" + std::to_string(c.out) +
                             " in=" + std::to_string(c.in) + " gs=" + std::to_string(c.gs);
    const PackedWeights w = ViewOf(*l.q);
    at::Tensor y = at::full({1, c.out}, std::nan(""), at::kFloat);
    const bool took = internal::GemvBf16(w, x.contiguous().data_ptr<float>(), y.data_ptr<float>());
    const bool takes = c.bits <= 5 && c.in % 32 == 0 && (c.gs < 0 || c.gs % 32 == 0);
    ASSERT_EQ(took, takes) << what;
    if (!took) continue;
    ExpectNear(y, at::matmul(xr, wr.t()), at::matmul(xr.abs(), wr.abs().t()), 1e-5, what);
  }
}

// DequantizeRows in bfloat16 (the prefill tiles of bfloat16 models; vectorised on
// AVX512-BF16, converted from float32 elsewhere) is the float32 weight rounded to nearest
// even, bit for bit, on every width and group shape.
TEST(QuantizedKernelsTest, DequantizeRowsBf16IsTheRoundedFloat32Weight) {
  int64_t seed = 3000;
  for (const Bf16Case& c : Bf16Cases()) {
    const int64_t groups = c.gs < 0 ? 1 : (c.in + c.gs - 1) / c.gs;
    at::manual_seed(++seed);
    Layer l = MakeLayerWithScales(c.bits, c.out, c.in, c.gs, at::rand({c.out, groups}) * 0.05 + 0.001, seed);
    const PackedWeights w = ViewOf(*l.q);
    at::Tensor f32 = at::empty({c.out, c.in}, at::kFloat);
    DequantizeRows(w, 0, c.out, f32.data_ptr<float>());
    const at::Tensor expected = f32.to(at::kBFloat16);
    for (const char* kernels : {"", "avx2"}) {
      SetFusedKernelForTesting(kernels);
      at::Tensor b16 = at::empty({c.out, c.in}, at::kBFloat16);
      DequantizeRows(w, 0, c.out, b16.data_ptr<c10::BFloat16>());
      EXPECT_TRUE(b16.view(at::kShort).equal(expected.view(at::kShort)))
          << "bits=" << c.bits << " in=" << c.in << " gs=" << c.gs << " kernels '" << kernels << "'";
    }
    SetFusedKernelForTesting("");
  }
}

// Restricted below "bf16", Forward multiplies in float32 again (the float32 bound holds).
TEST(QuantizedKernelsTest, RestrictedKernelsSkipBf16) {
  Layer l = MakeLayer(4, 40, 300, 128, 77);
  at::Tensor x = at::randn({20, 300});
  at::Tensor xd = x.to(at::kDouble);
  SetFusedKernelForTesting("avx512");
  EXPECT_FALSE(MatmulBf16Available());
  ExpectNear(l.q->Forward(x), at::matmul(xd, l.weight.t()), at::matmul(xd.abs(), l.weight.abs().t()),
             1e-5, "avx512");
  SetFusedKernelForTesting("");
}

}  // namespace
}  // namespace llmq
