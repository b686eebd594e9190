// The chunk decoding the CUDA kernels use (model/packed_decode.h), on the CPU, against the
// packing routines and against QuantizedLinear's own dequantized weight: the bit layout,
// the chunk and group arithmetic and the zero-point reads are checked wherever the suite
// runs, GPU or not.
#include "model/packed_decode.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "model/packing.h"
#include "model/quantized_linear.h"

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

// A QuantizedLinear's weight rebuilt chunk by chunk from its packed tensors, exactly as
// the CUDA dequantization kernel computes it (s * (q - z) in float32), equals the
// layer's DequantizedWeight bit for bit.
template <int kBits>
void ExpectLayerRebuilt(int64_t in, int64_t group_size) {
  const int64_t out = 7, groups = group_size < 0 ? 1 : (in + group_size - 1) / group_size;
  at::manual_seed(kBits * 1000 + in + group_size);
  at::Tensor codes = at::randint(0, 1 << kBits, {out, in}, at::kLong).to(at::kByte);
  at::Tensor scales = at::rand({out, groups}) * 0.05 + 0.001;
  at::Tensor zeros = at::randint(0, 1 << kBits, {out, groups}, at::kLong).to(at::kFloat);
  auto made = QuantizedLinear::Create(codes, scales, zeros, at::Tensor(), at::Tensor(), kBits, group_size, at::kFloat);
  ASSERT_TRUE(made.ok()) << made.status();
  const QuantizedLinear& q = **made;
  const at::Tensor want = q.DequantizedWeight().contiguous();
  const uint8_t* pc = q.packed_codes().data_ptr<uint8_t>();
  const uint8_t* pz = q.packed_zeros().data_ptr<uint8_t>();
  const at::Tensor scales_f = q.scales().to(at::kFloat).contiguous();
  const auto s = scales_f.accessor<float, 2>();
  const auto w = want.accessor<float, 2>();
  const int64_t code_row_bytes = q.packed_codes().size(1), zero_row_bytes = q.packed_zeros().size(1);
  const int64_t gs = group_size < 0 ? in : group_size;
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t c = 0; c < in / packed::kChunkCodes; ++c) {
      uint32_t words[kBits];
      LoadWords<kBits>(pc + packed::ChunkOffset<kBits>(code_row_bytes, o, c), words);
      const int64_t g = packed::ChunkGroup(c, gs);
      const float z = static_cast<float>(packed::RowCode(pz + o * zero_row_bytes, kBits, g));
      float qz[packed::kChunkCodes];
      packed::ChunkMinusZero<kBits>(words, z, qz);
      for (int j = 0; j < packed::kChunkCodes; ++j) {
        ASSERT_EQ(s[o][g] * qz[j], w[o][c * packed::kChunkCodes + j])
            << "bits=" << kBits << " in=" << in << " group " << group_size << " row " << o << " column "
            << c * packed::kChunkCodes + j;
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
