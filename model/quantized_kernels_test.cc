// The packed-weight kernels, each CPU path against independent references: the unpacker
// against the scalar bit-stream reader (exact), the fused products of every width, group
// size and row count against the float64 formula and against the portable path.
#include "model/quantized_kernels.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/packing.h"
#include "model/quantized_linear.h"

namespace llmq {
namespace {

TEST(QuantizedKernelsTest, VectorUnpackEqualsScalarUnpack) {
  if (!internal::HasAvx2()) GTEST_SKIP() << "no AVX2 + BMI2";
  at::manual_seed(1);
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t n : {0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 200, 1000}) {
      const int64_t bytes = PackedBytes(n, bits);
      at::Tensor packed = at::randint(0, 256, {bytes + 1}, at::kLong).to(at::kByte);
      const uint8_t* p = packed.data_ptr<uint8_t>();
      std::vector<uint8_t> want(n + 1, 0xAA), got(n + 1, 0xAA);
      UnpackRow(p, bits, 0, n, want.data());
      internal::UnpackCodesX86(p, bytes, bits, n, got.data());
      EXPECT_EQ(got, want) << "bits=" << bits << " n=" << n;  // the guard byte too
    }
  }
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

TEST(QuantizedKernelsTest, EveryPathWidthGroupAndRowCountMatchesFormula) {
  int64_t seed = 0;
  for (int bits : {2, 3, 4, 5, 8}) {
    for (int64_t in : {1, 17, 33, 130, 257}) {
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

// Prefill-sized inputs (dequantized tiles + GEMM) with the vector unpacker.
TEST(QuantizedKernelsTest, DequantizedTilesMatchFormula) {
  for (int bits : {2, 3, 4, 8}) {
    Layer l = MakeLayer(bits, 70, 300, 128, 50 + bits);
    at::Tensor x = at::randn({kFusedMaxRows + 3, 300});
    at::Tensor xd = x.to(at::kDouble);
    ExpectNear(l.q->Forward(x), at::matmul(xd, l.weight.t()), at::matmul(xd.abs(), l.weight.abs().t()),
               1e-5, "bits=" + std::to_string(bits));
  }
}

}  // namespace
}  // namespace llmq
