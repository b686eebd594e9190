#include "model/spqr_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace llmq {
namespace {

// Random SpQR parts of a (out, in) layer: 3-bit codes in groups of 4, 2-bit statistics,
// about 10 % outliers.
SpqrParts RandomParts(int64_t out, int64_t in) {
  at::manual_seed(11);
  SpqrParts p;
  p.bits = 3;
  p.scale_bits = 2;
  p.group_size = 4;
  const int64_t groups = (in + 3) / 4, row_groups = (out + 3) / 4;
  p.codes = at::randint(0, 8, {out, in}, at::kLong).to(at::kByte);
  p.scale_codes = at::randint(0, 4, {out, groups}, at::kLong).to(at::kByte);
  p.zero_codes = at::randint(0, 4, {out, groups}, at::kLong).to(at::kByte);
  p.scale_lo = at::rand({row_groups, groups}) * 0.1 + 0.01;
  p.scale_step = at::rand({row_groups, groups}) * 0.01;
  p.zero_lo = at::rand({row_groups, groups}) * 2;
  p.zero_step = at::rand({row_groups, groups});
  p.outlier_mask = at::rand({out, in}) < 0.1;
  p.outlier_values = at::randn({out, in});
  p.bias = at::randn({out});
  return p;
}

// Storage() then FromStorage() is the same layer; a storage that is not the format
// (wrong packed length, a falling row_ptr, columns out of order) is refused by name.
TEST(SpqrLinearTest, FromStorageRebuildsTheLayerAndChecksTheFormat) {
  auto layer = SpqrLinear::Create(RandomParts(10, 13), at::kFloat);
  ASSERT_TRUE(layer.ok()) << layer.status();
  ASSERT_GT((*layer)->outlier_count(), 2);
  const SpqrStorage st = (*layer)->Storage();
  EXPECT_EQ(st.codes.numel(), (10 * 13 * 3 + 7) / 8);
  EXPECT_EQ(st.columns.scalar_type(), at::kShort);
  auto again = SpqrLinear::FromStorage(st, at::kFloat);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*layer)->DequantizedWeight().equal((*again)->DequantizedWeight()));
  EXPECT_EQ((*layer)->WeightBytes(), (*again)->WeightBytes());
  EXPECT_EQ((*layer)->Describe(), (*again)->Describe());

  auto error = [](const SpqrStorage& bad) {
    auto result = SpqrLinear::FromStorage(bad, at::kFloat);
    EXPECT_FALSE(result.ok());
    return result.ok() ? std::string() : std::string(result.status().message());
  };
  SpqrStorage short_codes = st;
  short_codes.codes = st.codes.narrow(0, 0, st.codes.numel() - 1);
  EXPECT_NE(error(short_codes).find("codes must be"), std::string::npos);
  SpqrStorage falling = st;
  falling.row_ptr = st.row_ptr.clone();
  falling.row_ptr[3] = falling.row_ptr[4].item<int32_t>() + 1;
  EXPECT_NE(error(falling).find("row_ptr"), std::string::npos);
  // The first row with two outliers, its columns swapped.
  SpqrStorage swapped = st;
  swapped.columns = st.columns.clone();
  const at::Tensor counts = st.row_ptr.narrow(0, 1, 10) - st.row_ptr.narrow(0, 0, 10);
  const at::Tensor rows = at::nonzero(counts >= 2).reshape({-1});
  ASSERT_GT(rows.numel(), 0);
  const int64_t first = st.row_ptr[rows[0].item<int64_t>()].item<int64_t>();
  swapped.columns[first] = st.columns[first + 1];
  swapped.columns[first + 1] = st.columns[first];
  EXPECT_NE(error(swapped).find("rise strictly"), std::string::npos);
  SpqrStorage wide = st;
  wide.in = 12;
  EXPECT_FALSE(SpqrLinear::FromStorage(wide, at::kFloat).ok());
}

}  // namespace
}  // namespace llmq
