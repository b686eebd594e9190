// DenseGemv on every CPU path against a float64 product, and DenseLinear's one-row path
// (which uses it) against at::linear.
#include "model/gemv.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "model/linear.h"
#include "model/quantized_kernels.h"  // SetFusedKernelForTesting

namespace llmq {
namespace {

// |y - ref| <= rtol * |W| |x|: float32 rounding of a dot product in any order.
void ExpectNear(const at::Tensor& y, const at::Tensor& w, const at::Tensor& x, const std::string& what) {
  at::Tensor wd = w.to(at::kDouble), xd = x.to(at::kDouble);
  at::Tensor ref = at::mv(wd, xd), mag = at::mv(wd.abs(), xd.abs());
  at::Tensor excess = (y.to(at::kDouble) - ref).abs() - 1e-5 * mag - 1e-12;
  EXPECT_LE(excess.max().item<double>(), 0.0)
      << what << ": max |diff| " << (y.to(at::kDouble) - ref).abs().max().item<double>();
}

TEST(GemvTest, EveryPathMatchesFloat64Product) {
  at::manual_seed(3);
  for (const char* kernel : {"portable", "avx2", "avx512"}) {
    SetFusedKernelForTesting(kernel);
    for (int64_t out : {1, 3, 4, 5, 17, 130}) {
      for (int64_t in : {1, 7, 15, 16, 17, 31, 33, 100, 257}) {
        const std::string what = std::string(kernel) + " out=" + std::to_string(out) + " in=" + std::to_string(in);
        at::Tensor w = at::randn({out, in}), x = at::randn({in});
        at::Tensor y = at::empty({out});
        DenseGemv(w.data_ptr<float>(), x.data_ptr<float>(), out, in, y.data_ptr<float>());
        ExpectNear(y, w, x, what + " fp32");
        // bfloat16 inputs: their products are exact in float32, so the same bound holds.
        at::Tensor wb = w.to(at::kBFloat16), xb = x.to(at::kBFloat16);
        DenseGemv(wb.data_ptr<c10::BFloat16>(), xb.data_ptr<c10::BFloat16>(), out, in, y.data_ptr<float>());
        ExpectNear(y, wb, xb, what + " bf16");
      }
    }
  }
  SetFusedKernelForTesting("");
}

TEST(GemvTest, DenseLinearOneRowMatchesAtLinear) {
  at::manual_seed(4);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    at::Tensor w = at::randn({37, 91}).to(dtype), b = at::randn({37}).to(dtype);
    DenseLinear layer(w, b);
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{91}, {1, 91}, {1, 1, 91}}) {
      at::Tensor x = at::randn(shape).to(dtype);
      at::Tensor y = layer.Forward(x), want = at::linear(x, w, b);
      ASSERT_EQ(y.sizes(), want.sizes());
      ASSERT_EQ(y.scalar_type(), dtype);
      // float32: rounding of the sums; bfloat16: plus one rounding of the result.
      const double tol = dtype == at::kFloat ? 1e-4 : 0.1;
      EXPECT_TRUE(y.to(at::kFloat).allclose(want.to(at::kFloat), dtype == at::kFloat ? 1e-5 : 1e-2, tol))
          << c10::toString(dtype) << " max |diff| " << (y.to(at::kFloat) - want.to(at::kFloat)).abs().max().item<float>();
    }
  }
}

}  // namespace
}  // namespace llmq
