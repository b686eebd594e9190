#include "model/int8_gemm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace llmq {
namespace {

// An exact int32 reference: every product and sum in 64-bit integers, one loop per index.
at::Tensor ReferenceProduct(const at::Tensor& a, const at::Tensor& b) {
  const int64_t m = a.size(0), n = b.size(0), k = a.size(1);
  at::Tensor c = at::empty({m, n}, at::kInt);
  const int8_t* ap = a.data_ptr<int8_t>();
  const int8_t* bp = b.data_ptr<int8_t>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int64_t l = 0; l < k; ++l) acc += int64_t{ap[i * k + l]} * int64_t{bp[j * k + l]};
      c.data_ptr<int32_t>()[i * n + j] = static_cast<int32_t>(acc);
    }
  }
  return c;
}

// Shapes around the kernels' blocking (VNNI: 16 output rows, 4 columns, 8 / 4 / 1 input
// rows; AMX: 32 x 32 outputs in 16 x 16 tiles, 64 columns a tile, a partial last tile of
// columns), including extremes -128 and 127, for every kernel.
TEST(Int8GemmTest, EqualsExactIntegerReference) {
  at::manual_seed(5);
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1},     {1, 16, 4},    {3, 17, 5},    {8, 64, 172},  {13, 33, 67},
      {37, 172, 64}, {128, 48, 256}, {33, 50, 200}, {17, 16, 1100}, {64, 96, 2048}};
  for (const auto& [m, n, k] : shapes) {
    at::Tensor a = at::randint(-128, 128, {m, k}, at::kChar);
    at::Tensor b = at::randint(-128, 128, {n, k}, at::kChar);
    if (m * k > 2) {
      a.view({-1})[0] = -128;
      a.view({-1})[1] = 127;
    }
    const at::Tensor expected = ReferenceProduct(a, b);
    const PackedInt8Weights packed = PackInt8Weights(b);
    EXPECT_TRUE(UnpackInt8Weights(packed).equal(b));
    for (Int8Kernel kernel : {Int8Kernel::kScalar, Int8Kernel::kAuto, Int8Kernel::kVnni, Int8Kernel::kAmx}) {
      at::Tensor c = Int8MatMul(a, packed, kernel);
      EXPECT_TRUE(c.equal(expected)) << "m=" << m << " n=" << n << " k=" << k << " kernel=" << static_cast<int>(kernel);
    }
  }
}

TEST(Int8GemmTest, LargestProductsDoNotOverflow) {
  const int64_t k = 4096;
  at::Tensor a = at::full({2, k}, -128, at::kChar);
  at::Tensor b = at::full({16, k}, -128, at::kChar);
  at::Tensor c = Int8MatMul(a, PackInt8Weights(b));
  EXPECT_EQ(c.min().item<int64_t>(), 128 * 128 * k);
  EXPECT_EQ(c.max().item<int64_t>(), 128 * 128 * k);
}

TEST(Int8GemmTest, UnpacksSelectedColumns) {
  at::Tensor b = at::randint(-128, 128, {19, 10}, at::kChar);
  at::Tensor columns = at::tensor({7, 0, 9}, at::kLong);
  EXPECT_TRUE(UnpackInt8Columns(PackInt8Weights(b), columns).equal(b.index_select(1, columns)));
}

}  // namespace
}  // namespace llmq
