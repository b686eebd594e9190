// The AMX tile configuration the kernel files share (quantized_kernels_bf16.cc,
// fused_attention.cc): tiles 0..7 as 16 rows of 64 bytes. Include only on x86-64 Linux with
// GCC or Clang, after <immintrin.h>; call only where the CPU and OS allow AMX
// (internal::HasAmxBf16()).
#ifndef LLMQ_MODEL_AMX_TILES_H_
#define LLMQ_MODEL_AMX_TILES_H_

#include <cstdint>

namespace llmq {
namespace internal {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads the configuration for the calling thread (release with _tile_release()).
__attribute__((target("amx-tile"))) inline void ConfigureTiles16x64() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  // GCC 12 may drop the stores above otherwise: its ldtilecfg builtin does not say that it
  // reads the memory.
  __asm__ __volatile__("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

}  // namespace internal
}  // namespace llmq

#endif  // LLMQ_MODEL_AMX_TILES_H_
