#include "model/vector_loops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llmq {

LLMQ_VECTOR_CLONES
void DequantizeByGroup(const uint8_t* q, const float* s, const uint8_t* z, int64_t n,
                       int64_t group_size, float* out) {
  for (int64_t c0 = 0, g = 0; c0 < n; c0 += group_size, ++g) {
    const int64_t c1 = std::min(n, c0 + group_size);
    const float sg = s[g], zg = static_cast<float>(z[g]);
    for (int64_t c = c0; c < c1; ++c) out[c] = sg * (static_cast<float>(q[c]) - zg);
  }
}

LLMQ_VECTOR_CLONES
void DequantizeByIndex(const uint8_t* q, const float* s, const uint8_t* z, const int32_t* g_idx,
                       int64_t n, float* out) {
  for (int64_t c = 0; c < n; ++c) {
    const int32_t g = g_idx[c];
    out[c] = s[g] * (static_cast<float>(q[c]) - static_cast<float>(z[g]));
  }
}

LLMQ_VECTOR_CLONES
float DotF32(const float* a, const float* b, int64_t n) {
  float acc[16] = {0};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    for (int k = 0; k < 16; ++k) acc[k] += a[c + k] * b[c + k];
  }
  float total = 0;
  for (; c < n; ++c) total += a[c] * b[c];
  for (int k = 0; k < 16; ++k) total += acc[k];
  return total;
}

LLMQ_VECTOR_CLONES
float AbsMax(const float* x, int64_t n) {
  float m[16] = {0};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    for (int k = 0; k < 16; ++k) m[k] = std::max(m[k], std::fabs(x[c + k]));
  }
  float total = 0;
  for (; c < n; ++c) total = std::max(total, std::fabs(x[c]));
  for (int k = 0; k < 16; ++k) total = std::max(total, m[k]);
  return total;
}

LLMQ_VECTOR_CLONES
void RoundToInt8(const float* x, int64_t n, float scale, float q, int8_t* codes) {
  for (int64_t c = 0; c < n; ++c) {
    const float v = std::nearbyint(x[c] / scale);
    codes[c] = static_cast<int8_t>(std::min(std::max(v, -q), q));
  }
}

LLMQ_VECTOR_CLONES
void ScaleInt32(const int32_t* v, int64_t n, float row_scale, const float* col_scales, float* y) {
  for (int64_t c = 0; c < n; ++c) y[c] = static_cast<float>(v[c]) * row_scale * col_scales[c];
}

LLMQ_VECTOR_CLONES
void ConvertFloats(const float* in, int64_t n, c10::BFloat16* out) {
  uint16_t* bits = reinterpret_cast<uint16_t*>(out);
  for (int64_t c = 0; c < n; ++c) {
    uint32_t u;
    std::memcpy(&u, &in[c], 4);
    const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    bits[c] = static_cast<uint16_t>(in[c] != in[c] ? 0x7FC0u : rounded);
  }
}

void ConvertFloats(const float* in, int64_t n, c10::Half* out) {
  for (int64_t c = 0; c < n; ++c) out[c] = c10::Half(in[c]);
}

}  // namespace llmq
