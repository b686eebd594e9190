#include "model/packing.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "model/quantized_linear.h"

namespace llmq {
namespace {

at::Tensor Bytes(std::vector<int> values, int64_t rows) {
  at::Tensor t = at::tensor(values, at::kInt).to(at::kByte);
  return t.view({rows, -1});
}

// 4 bits, low nibble first; an odd row length leaves the last high nibble zero.
//   row 0 [1, 2, 3, 15, 0]  -> 0x21, 0xF3, 0x00
//   row 1 [7, 8, 9, 10, 11] -> 0x87, 0xA9, 0x0B
TEST(PackingTest, HandComputedFourBitBytes) {
  at::Tensor codes = Bytes({1, 2, 3, 15, 0, 7, 8, 9, 10, 11}, 2);
  at::Tensor packed = PackCodes(codes, 4);
  EXPECT_TRUE(packed.equal(Bytes({0x21, 0xF3, 0x00, 0x87, 0xA9, 0x0B}, 2))) << packed;
  EXPECT_TRUE(UnpackCodes(packed, 4, 5).equal(codes));
}

// 3 bits: code j at bits [3j, 3j+3) of the little-endian bit stream.
//   [1, 2, 3, 4, 5, 6, 7, 0, 5]
//   byte 0 = c0 | c1 << 3 | (c2 & 3) << 6           = 1 + 16 + 192        = 0xD1
//   byte 1 = c2 >> 2 | c3 << 1 | c4 << 4 | (c5 & 1) << 7 = 0 + 8 + 80 + 0  = 0x58
//   byte 2 = c5 >> 1 | c6 << 2 | c7 << 5             = 3 + 28 + 0          = 0x1F
//   byte 3 = c8                                                            = 0x05
TEST(PackingTest, HandComputedThreeBitBytes) {
  at::Tensor codes = Bytes({1, 2, 3, 4, 5, 6, 7, 0, 5}, 1);
  at::Tensor packed = PackCodes(codes, 3);
  EXPECT_TRUE(packed.equal(Bytes({0xD1, 0x58, 0x1F, 0x05}, 1))) << packed;
  EXPECT_TRUE(UnpackCodes(packed, 3, 9).equal(codes));
}

// 2 bits: four codes per byte, first code in the lowest bits. [3, 0, 1, 2, 1] -> 0x93, 0x01.
TEST(PackingTest, HandComputedTwoBitBytes) {
  at::Tensor codes = Bytes({3, 0, 1, 2, 1}, 1);
  EXPECT_TRUE(PackCodes(codes, 2).equal(Bytes({0x93, 0x01}, 1)));
}

TEST(PackingTest, PackedSizeIsCeilOfBits) {
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t n : {1, 7, 172, 173}) {
      at::Tensor codes = at::zeros({3, n}, at::kByte);
      EXPECT_EQ(PackCodes(codes, bits).size(1), (n * bits + 7) / 8) << bits << " " << n;
    }
  }
}

// Every width, odd and even row lengths, random codes over the full range.
TEST(PackingTest, PackUnpackLosslessAllWidths) {
  at::manual_seed(7);
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t n : {1, 2, 3, 5, 8, 13, 31, 64, 171, 172, 173, 1001}) {
      at::Tensor codes = at::randint(0, 1 << bits, {5, n}, at::kLong).to(at::kByte);
      at::Tensor packed = PackCodes(codes, bits);
      EXPECT_TRUE(UnpackCodes(packed, bits, n).equal(codes)) << "bits=" << bits << " n=" << n;
      EXPECT_TRUE(UnpackCodesWithAtenOps(packed, bits, n).equal(codes))
          << "aten bits=" << bits << " n=" << n;
    }
  }
}

// UnpackRow from any starting code (kernels read group by group).
TEST(PackingTest, UnpackRowWindowsMatchFullUnpack) {
  at::manual_seed(8);
  const int64_t n = 97;
  for (int bits = 1; bits <= 8; ++bits) {
    at::Tensor codes = at::randint(0, 1 << bits, {1, n}, at::kLong).to(at::kByte);
    at::Tensor packed = PackCodes(codes, bits);
    const uint8_t* expected = codes.data_ptr<uint8_t>();
    for (int64_t first : {0, 1, 2, 3, 5, 8, 33, 90}) {
      for (int64_t len : {int64_t{0}, int64_t{1}, int64_t{7}, n - first}) {
        if (first + len > n) continue;
        std::vector<uint8_t> out(len + 1, 0xEE);
        UnpackRow(packed.data_ptr<uint8_t>(), bits, first, len, out.data());
        for (int64_t j = 0; j < len; ++j) {
          ASSERT_EQ(out[j], expected[first + j]) << "bits=" << bits << " first=" << first << " j=" << j;
        }
        EXPECT_EQ(out[len], 0xEE) << "wrote past the window";
      }
    }
  }
}

TEST(PackingTest, CodeTooLargeForWidthThrows) {
  at::Tensor codes = Bytes({16}, 1);
  EXPECT_THROW(PackCodes(codes, 4), c10::Error);
}

}  // namespace
}  // namespace llmq
