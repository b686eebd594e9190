// The chunk decoding the CUDA kernels use (model/packed_decode.h), on the CPU, against the
// packing routines and against QuantizedLinear's own dequantized weight: the bit layout,
// the chunk and group arithmetic and the zero-point reads are checked wherever the suite
// runs, GPU or not.
#include "model/packed_decode.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "model/packing.h"
#include "model/quantized_linear.h"
#include "model/quantized_linear_testing.h"

namespace llmq {
namespace {

template <int kBits>
void LoadWords(const uint8_t* p, uint32_t (&words)[kBits]) {
  std::memcpy(words, p, sizeof(words));  // little-endian, as on the GPU
}

template <int kBits>
void ExpectChunksDecode() {
  std::mt19937 rng(kBits);
  for (int64_t n : {32, 64, 256, 4096}) {
    std::vector<uint8_t> codes(n);
    for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % (1u << kBits));
    std::vector<uint8_t> row(PackedBytes(n, kBits));
    PackRow(codes.data(), n, kBits, row.data());
    ASSERT_EQ(static_cast<int64_t>(row.size()), n / packed::kChunkCodes * 4 * kBits);
    for (int64_t c = 0; c < n / packed::kChunkCodes; ++c) {
      uint32_t words[kBits];
      LoadWords<kBits>(row.data() + packed::ChunkOffset<kBits>(0, 0, c), words);
      for (int j = 0; j < packed::kChunkCodes; ++j) {
        ASSERT_EQ(packed::ChunkCode<kBits>(words, j), codes[c * packed::kChunkCodes + j])
            << "bits=" << kBits << " n=" << n << " chunk " << c << " code " << j;
      }
    }
  }
}

template <int kBits>
void ExpectOctetsDecode() {
  std::mt19937 rng(kBits + 100);
  for (int64_t n : {32, 256, 4096}) {
    std::vector<uint8_t> codes(n);
    for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % (1u << kBits));
    std::vector<uint8_t> row(PackedBytes(n, kBits));
    PackRow(codes.data(), n, kBits, row.data());
    for (int64_t i = 0; i < n / packed::kOctetCodes; ++i) {
      uint64_t octet = 0;
      std::memcpy(&octet, row.data() + packed::OctetOffset<kBits>(0, 0, i), kBits);
      for (int k = 0; k < packed::kOctetCodes; ++k) {
        ASSERT_EQ(packed::OctetCode<kBits>(octet, k), codes[i * packed::kOctetCodes + k])
            << "bits=" << kBits << " n=" << n << " octet " << i << " code " << k;
      }
    }
  }
}

TEST(PackedDecodeTest, OctetCodesAreThePackedCodes) {
  ExpectOctetsDecode<2>();
  ExpectOctetsDecode<3>();
  ExpectOctetsDecode<4>();
  ExpectOctetsDecode<8>();
}

// k - z by the 2^23 trick is the exact difference for every pair of 8-bit codes.
TEST(PackedDecodeTest, CodeMinusZeroIsExact) {
  for (uint32_t k = 0; k < 256; ++k) {
    for (uint32_t z = 0; z < 256; ++z) {
      ASSERT_EQ(packed::CodeMinusZero(k, 8388608.0f + static_cast<float>(z)),
                static_cast<float>(static_cast<int>(k) - static_cast<int>(z)));
    }
  }
}

TEST(PackedDecodeTest, ChunkCodesAreThePackedCodes) {
  ExpectChunksDecode<2>();
  ExpectChunksDecode<3>();
  ExpectChunksDecode<4>();
  ExpectChunksDecode<8>();
}

// Every width 1..8 and lengths that end mid-byte: each code read alone from its one or
// two bytes.
TEST(PackedDecodeTest, RowCodeReadsEachCodeAlone) {
  std::mt19937 rng(7);
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t n : {1, 3, 7, 8, 9, 33, 100}) {
      std::vector<uint8_t> codes(n);
      for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % (1u << bits));
      std::vector<uint8_t> row(PackedBytes(n, bits));
      PackRow(codes.data(), n, bits, row.data());
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(packed::RowCode(row.data(), bits, j), codes[j]) << "bits=" << bits << " n=" << n << " j=" << j;
      }
    }
  }
}

// A QuantizedLinear's weight rebuilt from its packed tensors as the CUDA kernels read
// them, octet by octet (the GEMV) and chunk by chunk (the dequantization), each weight
// s * (q - z) in float32, equals the layer's DequantizedWeight bit for bit.
template <int kBits>
void ExpectLayerRebuilt(int64_t in, int64_t group_size) {
  const int64_t out = 7;
  const std::unique_ptr<QuantizedLinear> layer = RandomQuantizedLinear(kBits, out, in, group_size, kBits * 1000 + in + group_size);
  const QuantizedLinear& q = *layer;
  const at::Tensor want = q.DequantizedWeight().contiguous();
  const uint8_t* pc = q.packed_codes().data_ptr<uint8_t>();
  const uint8_t* pz = q.packed_zeros().data_ptr<uint8_t>();
  const at::Tensor scales_f = q.scales().to(at::kFloat).contiguous();
  const auto s = scales_f.accessor<float, 2>();
  const auto w = want.accessor<float, 2>();
  const PackedShape shape = q.packed_shape();  // what the CUDA view is made of
  auto zero23 = [&](int64_t o, int64_t g) {
    return 8388608.0f + static_cast<float>(packed::RowCode(pz + o * shape.zero_row_bytes, kBits, g));
  };
  const std::string where = "bits=" + std::to_string(kBits) + " in=" + std::to_string(in) +
                            " group " + std::to_string(group_size);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in / packed::kOctetCodes; ++i) {
      uint64_t octet = 0;
      std::memcpy(&octet, pc + packed::OctetOffset<kBits>(shape.code_row_bytes, o, i), kBits);
      const int64_t g = packed::GroupOf(i * packed::kOctetCodes, shape.group_size);
      float qz[packed::kOctetCodes];
      packed::OctetMinusZero<kBits>(octet, zero23(o, g), qz);
      for (int k = 0; k < packed::kOctetCodes; ++k) {
        ASSERT_EQ(s[o][g] * qz[k], w[o][i * packed::kOctetCodes + k]) << where << " row " << o << " octet " << i;
      }
    }
    for (int64_t c = 0; c < in / packed::kChunkCodes; ++c) {
      uint32_t words[kBits];
      LoadWords<kBits>(pc + packed::ChunkOffset<kBits>(shape.code_row_bytes, o, c), words);
      const int64_t g = packed::GroupOf(c * packed::kChunkCodes, shape.group_size);
      float qz[packed::kChunkCodes];
      packed::ChunkMinusZero<kBits>(words, zero23(o, g), qz);
      for (int j = 0; j < packed::kChunkCodes; ++j) {
        ASSERT_EQ(s[o][g] * qz[j], w[o][c * packed::kChunkCodes + j]) << where << " row " << o << " chunk " << c;
      }
    }
  }
}

TEST(PackedDecodeTest, ChunksRebuildTheLayersWeight) {
  for (int64_t gs : {32, 64, 128, -1}) {
    ExpectLayerRebuilt<2>(384, gs);
    ExpectLayerRebuilt<3>(384, gs);
    ExpectLayerRebuilt<4>(384, gs);
    ExpectLayerRebuilt<8>(384, gs);
  }
  ExpectLayerRebuilt<4>(320, 128);  // a last group of 64 columns
  ExpectLayerRebuilt<3>(320, 128);
}

}  // namespace
}  // namespace llmq
