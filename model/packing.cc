#include "model/packing.h"

#include <ATen/ATen.h>

#include <cstring>

#include "model/parallel.h"
#include "model/quantized_linear.h"
#include "model/vector_loops.h"

namespace llmq {
namespace {

// Code j of a general-width row: bits straddle at most two bytes (bits <= 8).
inline uint8_t ReadCode(const uint8_t* packed, int bits, int64_t j) {
  const int64_t bit = j * bits;
  const int64_t byte = bit >> 3;
  const int shift = static_cast<int>(bit & 7);
  uint32_t v = packed[byte] >> shift;
  if (shift + bits > 8) v |= static_cast<uint32_t>(packed[byte + 1]) << (8 - shift);
  return static_cast<uint8_t>(v & ((1u << bits) - 1));
}

void CheckCodes(const at::Tensor& t, int bits, const char* what) {
  TORCH_CHECK(bits >= 1 && bits <= 8, what, ": bits must be in 1..8, got ", bits);
  TORCH_CHECK(t.dim() == 2 && t.scalar_type() == at::kByte, what,
              ": expected a 2-D uint8 tensor, got ", t.sizes(), " ", t.scalar_type());
}

}  // namespace

at::Tensor UnpackCodesWithAtenOps(const at::Tensor& packed, int bits, int64_t n) {
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(packed.device());
  at::Tensor bit = at::arange(n, long_opts) * bits;                      // (n)
  at::Tensor byte = at::div(bit, 8, "floor");                             // (n)
  at::Tensor shift = (bit - byte * 8).to(at::kInt);                       // (n)
  at::Tensor wide = at::cat({packed, at::zeros({packed.size(0), 1}, packed.options())}, 1)
                        .to(at::kInt);                                    // (rows, bytes + 1)
  at::Tensor lo = wide.index_select(1, byte);                             // (rows, n)
  at::Tensor hi = wide.index_select(1, byte + 1);
  at::Tensor v = at::bitwise_and(at::__rshift__(at::bitwise_or(lo, at::__lshift__(hi, 8)), shift),
                                 (1 << bits) - 1);
  return v.to(at::kByte);
}

void PackRow(const uint8_t* codes, int64_t n, int bits, uint8_t* packed) {
  const int64_t bytes = PackedBytes(n, bits);
  switch (bits) {
    case 8:
      std::memcpy(packed, codes, static_cast<size_t>(n));
      return;
    case 4:
      for (int64_t b = 0; b < n / 2; ++b) {
        packed[b] = static_cast<uint8_t>(codes[2 * b] | (codes[2 * b + 1] << 4));
      }
      if (n % 2) packed[bytes - 1] = codes[n - 1];
      return;
    case 2:
      for (int64_t b = 0; b < n / 4; ++b) {
        const uint8_t* c = codes + 4 * b;
        packed[b] = static_cast<uint8_t>(c[0] | (c[1] << 2) | (c[2] << 4) | (c[3] << 6));
      }
      break;  // the tail, if any, below
    default:
      break;
  }
  // General bit stream (and the 2-bit tail): clear, then OR every code in.
  const int64_t first = bits == 2 ? (n / 4) * 4 : 0;
  std::memset(packed + first * bits / 8, 0, static_cast<size_t>(bytes - first * bits / 8));
  for (int64_t j = first; j < n; ++j) {
    const int64_t bit = j * bits;
    const int64_t byte = bit >> 3;
    const int shift = static_cast<int>(bit & 7);
    const uint32_t v = static_cast<uint32_t>(codes[j]) << shift;
    packed[byte] |= static_cast<uint8_t>(v);
    if (shift + bits > 8) packed[byte + 1] |= static_cast<uint8_t>(v >> 8);
  }
}

LLMQ_VECTOR_CLONES
void UnpackRow(const uint8_t* packed, int bits, int64_t first, int64_t n, uint8_t* out) {
  if (bits == 8) {
    std::memcpy(out, packed + first, static_cast<size_t>(n));
    return;
  }
  int64_t j = first;
  const int64_t end = first + n;
  if (bits == 4) {
    if (j < end && (j & 1)) *out++ = packed[j++ >> 1] >> 4;
    const uint8_t* p = packed + (j >> 1);
    const int64_t pairs = (end - j) / 2;
    for (int64_t b = 0; b < pairs; ++b) {
      out[2 * b] = p[b] & 0xF;
      out[2 * b + 1] = p[b] >> 4;
    }
    out += 2 * pairs;
    j += 2 * pairs;
    if (j < end) *out = packed[j >> 1] & 0xF;
    return;
  }
  if (bits == 2) {
    for (; j < end && (j & 3); ++j) *out++ = ReadCode(packed, 2, j);
    const uint8_t* p = packed + (j >> 2);
    const int64_t quads = (end - j) / 4;
    for (int64_t b = 0; b < quads; ++b) {
      out[4 * b] = p[b] & 3;
      out[4 * b + 1] = (p[b] >> 2) & 3;
      out[4 * b + 2] = (p[b] >> 4) & 3;
      out[4 * b + 3] = p[b] >> 6;
    }
    out += 4 * quads;
    j += 4 * quads;
  } else if (bits == 3) {
    // Eight codes per three bytes, read as one 24-bit little-endian word.
    for (; j < end && (j & 7); ++j) *out++ = ReadCode(packed, 3, j);
    const uint8_t* p = packed + (j >> 3) * 3;
    const int64_t octets = (end - j) / 8;
    for (int64_t b = 0; b < octets; ++b, p += 3) {
      const uint32_t w = p[0] | (p[1] << 8) | (p[2] << 16);
      for (int k = 0; k < 8; ++k) out[8 * b + k] = (w >> (3 * k)) & 7;
    }
    out += 8 * octets;
    j += 8 * octets;
  }
  for (; j < end; ++j) *out++ = ReadCode(packed, bits, j);
}

at::Tensor PackCodes(const at::Tensor& codes, int bits) {
  CheckCodes(codes, bits, "PackCodes");
  if (!codes.is_cpu()) return PackCodes(codes.cpu(), bits).to(codes.device());
  at::Tensor c = codes.contiguous();
  const int64_t rows = c.size(0), n = c.size(1), bytes = PackedBytes(n, bits);
  TORCH_CHECK(c.numel() == 0 || c.max().item<int>() < (1 << bits),
              "PackCodes: a code does not fit in ", bits, " bits");
  at::Tensor packed = at::empty({rows, bytes}, at::kByte);  // (rows, ceil(n * bits / 8))
  const uint8_t* src = c.data_ptr<uint8_t>();
  uint8_t* dst = packed.data_ptr<uint8_t>();
  ParallelFor(0, rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) PackRow(src + r * n, n, bits, dst + r * bytes);
  });
  return packed;
}

at::Tensor UnpackCodes(const at::Tensor& packed, int bits, int64_t n) {
  CheckCodes(packed, bits, "UnpackCodes");
  TORCH_CHECK(n >= 0 && packed.size(1) >= PackedBytes(n, bits), "UnpackCodes: ", n,
              " codes of ", bits, " bits need ", PackedBytes(n, bits), " bytes per row, got ",
              packed.size(1));
  if (!packed.is_cpu()) return UnpackCodesWithAtenOps(packed, bits, n);
  at::Tensor p = packed.contiguous();
  const int64_t rows = p.size(0), bytes = p.size(1);
  at::Tensor codes = at::empty({rows, n}, at::kByte);  // (rows, n)
  const uint8_t* src = p.data_ptr<uint8_t>();
  uint8_t* dst = codes.data_ptr<uint8_t>();
  ParallelFor(0, rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) UnpackRow(src + r * bytes, bits, 0, n, dst + r * n);
  });
  return codes;
}

}  // namespace llmq
