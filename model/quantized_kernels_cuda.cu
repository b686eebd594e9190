// The CUDA kernels of model/quantized_kernels_cuda.h. Codes are decoded by
// model/packed_decode.h (shared with the CPU tests), k - z exactly by the 2^23 trick (no
// conversion instruction). Groups are multiples of 32 columns, so an octet (8 codes) or a
// chunk (32 codes) lies in one group: one scale and one zero each, read through the
// caches (neighbouring threads read the same ones).
//
// GEMV: a block of kGemvWarps warps computes kGemvOut output rows; its threads stride over
// the octets of the columns together (consecutive threads, consecutive octets: each row's
// codes are read coalesced, 512 bytes per step for 4-bit), each thread loading its 8
// columns of x once per input row and using them for all kGemvOut weight rows, so x's
// traffic through L1 is 2x the weights' (4-bit, one input row), not 8x as with one weight
// row per thread. The threads' partial sums meet by warp shuffles, then across the warps
// in shared memory.
// Dequantization: one thread per chunk, 32 weights stored as 16-byte vectors.
#include "model/quantized_kernels_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "model/packed_decode.h"

namespace llmq {
namespace {

constexpr int kWarp = 32;
constexpr int kGemvWarps = 4;         // warps per block, splitting the columns
constexpr int kGemvOut = 4;           // output rows per block
constexpr int kDequantThreads = 256;  // chunks per block

// The kBits bytes of an octet as one little-endian integer: aligned 2-, 4- and 8-byte
// loads for 2-, 4- and 8-bit codes (row strides are multiples of them), three byte loads
// for 3-bit. Read-only path: the weights are never written while a kernel runs.
template <int kBits>
__device__ __forceinline__ uint64_t LoadOctet(const uint8_t* p) {
  if constexpr (kBits == 2) {
    return __ldg(reinterpret_cast<const unsigned short*>(p));
  } else if constexpr (kBits == 4) {
    return __ldg(reinterpret_cast<const unsigned int*>(p));
  } else if constexpr (kBits == 8) {
    return __ldg(reinterpret_cast<const unsigned long long*>(p));
  } else {
    uint64_t v = 0;
#pragma unroll
    for (int i = 0; i < kBits; ++i) v |= static_cast<uint64_t>(__ldg(p + i)) << (8 * i);
    return v;
  }
}

// The 4 * kBits bytes of a chunk as kBits words: one 16-byte load for 4-bit, two for
// 8-bit, one 8-byte load for 2-bit, three 4-byte loads for 3-bit (12-byte chunks are
// only 4-byte aligned).
template <int kBits>
__device__ __forceinline__ void LoadChunk(const uint8_t* p, uint32_t (&w)[kBits]) {
  if constexpr (kBits == 4) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  } else if constexpr (kBits == 8) {
    const uint4 a = __ldg(reinterpret_cast<const uint4*>(p));
    const uint4 b = __ldg(reinterpret_cast<const uint4*>(p) + 1);
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
  } else if constexpr (kBits == 2) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    w[0] = v.x, w[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < kBits; ++i) w[i] = __ldg(reinterpret_cast<const uint32_t*>(p) + i);
  }
}

// Group g of row o: its scale, and 2^23 + its zero (for packed::CodeMinusZero).
__device__ __forceinline__ float GroupScale(const CudaPackedWeights& w, int64_t o, int64_t g) {
  return __half2float(__ushort_as_half(__ldg(w.scales + o * w.groups + g)));
}
template <int kBits>
__device__ __forceinline__ float GroupZero23(const CudaPackedWeights& w, int64_t o, int64_t g) {
  return 8388608.0f + static_cast<float>(packed::RowCode(w.zeros + o * w.zero_row_bytes, kBits, g));
}

// Group of column c; group_size < 2^31 (32-bit division: the 64-bit one is a long
// instruction sequence on GPUs).
__device__ __forceinline__ int64_t GroupOfColumn(int64_t c, int64_t group_size) {
  return static_cast<uint32_t>(c) / static_cast<uint32_t>(group_size);
}

template <int kBits, int kRows>
__global__ void __launch_bounds__(kGemvWarps * kWarp)
    PackedGemvKernel(CudaPackedWeights w, const float* __restrict__ x, int rows,
                     float* __restrict__ y) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t o0 = static_cast<int64_t>(blockIdx.x) * kGemvOut;
  const int outs = static_cast<int>(w.out - o0 < kGemvOut ? w.out - o0 : kGemvOut);
  float acc[kRows][kGemvOut];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int j = 0; j < kGemvOut; ++j) acc[r][j] = 0.0f;
  }
  const int64_t octets = w.in / packed::kOctetCodes;
  for (int64_t i = threadIdx.x; i < octets; i += kGemvWarps * kWarp) {
    const int64_t c = i * packed::kOctetCodes;
    const int64_t g = GroupOfColumn(c, w.group_size);
    float4 xa[kRows], xb[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      if (r < rows) {
        const float4* xr = reinterpret_cast<const float4*>(x + r * w.in + c);
        xa[r] = __ldg(xr);
        xb[r] = __ldg(xr + 1);
      }
    }
#pragma unroll
    for (int j = 0; j < kGemvOut; ++j) {
      if (j < outs) {
        const int64_t o = o0 + j;
        const uint64_t octet = LoadOctet<kBits>(w.codes + packed::OctetOffset<kBits>(w.code_row_bytes, o, i));
        const float s = GroupScale(w, o, g);
        float q[packed::kOctetCodes];
        packed::OctetMinusZero<kBits>(octet, GroupZero23<kBits>(w, o, g), q);
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          if (r < rows) {
            float d = q[0] * xa[r].x;
            d = fmaf(q[1], xa[r].y, d);
            d = fmaf(q[2], xa[r].z, d);
            d = fmaf(q[3], xa[r].w, d);
            d = fmaf(q[4], xb[r].x, d);
            d = fmaf(q[5], xb[r].y, d);
            d = fmaf(q[6], xb[r].z, d);
            d = fmaf(q[7], xb[r].w, d);
            acc[r][j] = fmaf(s, d, acc[r][j]);
          }
        }
      }
    }
  }
  __shared__ float partial[kGemvWarps][kRows][kGemvOut];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int j = 0; j < kGemvOut; ++j) {
      float v = acc[r][j];
#pragma unroll
      for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
      if (lane == 0) partial[warp][r][j] = v;
    }
  }
  __syncthreads();
  if (threadIdx.x < kRows * kGemvOut) {
    const int r = threadIdx.x / kGemvOut, j = threadIdx.x % kGemvOut;
    if (r < rows && j < outs) {
      float v = 0.0f;
#pragma unroll
      for (int k = 0; k < kGemvWarps; ++k) v += partial[k][r][j];
      y[r * w.out + o0 + j] = v;
    }
  }
}

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// One thread per chunk of W[r0:r0+n]: 32 weights s (q - z), rounded once to T, stored as
// 16-byte vectors (a chunk is 64 or 128 bytes, 16-byte aligned in dst).
template <int kBits, typename T>
__global__ void __launch_bounds__(kDequantThreads)
    DequantizeKernel(CudaPackedWeights w, int64_t r0, int64_t n, T* __restrict__ dst) {
  const int64_t chunks = w.in / packed::kChunkCodes;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kDequantThreads + threadIdx.x;
  if (i >= n * chunks) return;
  const int64_t o = r0 + i / chunks, c = i % chunks;
  const int64_t g = GroupOfColumn(c * packed::kChunkCodes, w.group_size);
  uint32_t words[kBits];
  LoadChunk<kBits>(w.codes + packed::ChunkOffset<kBits>(w.code_row_bytes, o, c), words);
  const float s = GroupScale(w, o, g);
  float q[packed::kChunkCodes];
  packed::ChunkMinusZero<kBits>(words, GroupZero23<kBits>(w, o, g), q);
  union {
    T v[packed::kChunkCodes];
    uint4 vec[packed::kChunkCodes * sizeof(T) / 16];
  } out;
#pragma unroll
  for (int j = 0; j < packed::kChunkCodes; ++j) out.v[j] = FromFloat<T>(s * q[j]);
  uint4* d = reinterpret_cast<uint4*>(dst + (o - r0) * w.in + c * packed::kChunkCodes);
#pragma unroll
  for (int k = 0; k < static_cast<int>(packed::kChunkCodes * sizeof(T) / 16); ++k) d[k] = out.vec[k];
}

template <int kBits>
void LaunchGemv(const CudaPackedWeights& w, const float* x, int64_t rows, float* y,
                cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((w.out + kGemvOut - 1) / kGemvOut));
  const dim3 block(kGemvWarps * kWarp);
  const int r = static_cast<int>(rows);
  if (rows == 1) {
    PackedGemvKernel<kBits, 1><<<grid, block, 0, stream>>>(w, x, r, y);
  } else if (rows == 2) {
    PackedGemvKernel<kBits, 2><<<grid, block, 0, stream>>>(w, x, r, y);
  } else if (rows <= 4) {
    PackedGemvKernel<kBits, 4><<<grid, block, 0, stream>>>(w, x, r, y);
  } else {
    PackedGemvKernel<kBits, 8><<<grid, block, 0, stream>>>(w, x, r, y);
  }
}

template <int kBits>
void LaunchDequantize(const CudaPackedWeights& w, int64_t r0, int64_t n, CudaDtype dtype,
                      void* dst, cudaStream_t stream) {
  const int64_t threads = n * (w.in / packed::kChunkCodes);
  const dim3 grid(static_cast<unsigned>((threads + kDequantThreads - 1) / kDequantThreads));
  switch (dtype) {
    case CudaDtype::kFloat32:
      DequantizeKernel<kBits, float><<<grid, kDequantThreads, 0, stream>>>(w, r0, n, static_cast<float*>(dst));
      break;
    case CudaDtype::kFloat16:
      DequantizeKernel<kBits, __half><<<grid, kDequantThreads, 0, stream>>>(w, r0, n, static_cast<__half*>(dst));
      break;
    case CudaDtype::kBFloat16:
      DequantizeKernel<kBits, __nv_bfloat16><<<grid, kDequantThreads, 0, stream>>>(
          w, r0, n, static_cast<__nv_bfloat16*>(dst));
      break;
  }
}

template <template <int> class Launch, typename... Args>
int ForBits(int bits, Args&&... args) {
  switch (bits) {
    case 2: Launch<2>::Run(args...); break;
    case 3: Launch<3>::Run(args...); break;
    case 4: Launch<4>::Run(args...); break;
    case 8: Launch<8>::Run(args...); break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  return static_cast<int>(cudaGetLastError());
}

template <int kBits>
struct GemvLauncher {
  static void Run(const CudaPackedWeights& w, const float* x, int64_t rows, float* y,
                  cudaStream_t stream) {
    LaunchGemv<kBits>(w, x, rows, y, stream);
  }
};

template <int kBits>
struct DequantizeLauncher {
  static void Run(const CudaPackedWeights& w, int64_t r0, int64_t n, CudaDtype dtype,
                  void* dst, cudaStream_t stream) {
    LaunchDequantize<kBits>(w, r0, n, dtype, dst, stream);
  }
};

// Each thread sums its grid-stride share of n 16-byte vectors; one word per thread out,
// so that nothing is optimised away.
__global__ void ReadProbeKernel(const uint4* __restrict__ p, int64_t n, uint32_t* out) {
  uint32_t acc = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint4 v = __ldg(p + i);
    acc ^= v.x + v.y + v.z + v.w;
  }
  out[static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x] = acc;
}

}  // namespace

double CudaReadBandwidthGBs(int64_t bytes, int repeats) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return 0;
  }
  const int64_t n = bytes / 16;
  const int blocks = 8 * sms, threads = 512;
  uint4* p = nullptr;
  uint32_t* out = nullptr;
  if (cudaMalloc(&p, n * 16) != cudaSuccess) return 0;
  if (cudaMalloc(&out, sizeof(uint32_t) * blocks * threads) != cudaSuccess) {
    cudaFree(p);
    return 0;
  }
  cudaMemset(p, 1, n * 16);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  float best_ms = 0;
  for (int r = 0; r <= repeats; ++r) {
    cudaEventRecord(start);
    ReadProbeKernel<<<blocks, threads>>>(p, n, out);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (r > 0 && (best_ms == 0 || ms < best_ms)) best_ms = ms;  // r == 0: warm-up
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(out);
  cudaFree(p);
  return cudaGetLastError() == cudaSuccess && best_ms > 0 ? n * 16 / (best_ms * 1e6) : 0;
}

bool CudaKernelsUsable(int device) {
  static std::mutex mu;
  static std::vector<int> known;  // per device: 0 not asked yet, 1 usable, -1 not
  const std::lock_guard<std::mutex> lock(mu);
  if (device < 0) return false;
  if (static_cast<size_t>(device) >= known.size()) known.resize(device + 1, 0);
  if (known[device] == 0) {
    cudaFuncAttributes attributes;
    const bool usable = cudaSetDevice(device) == cudaSuccess &&
                        cudaFuncGetAttributes(&attributes, PackedGemvKernel<4, 1>) == cudaSuccess;
    cudaGetLastError();  // a failed probe leaves nothing behind for the next launch
    known[device] = usable ? 1 : -1;
  }
  return known[device] == 1;
}

bool CudaKernelsApply(const CudaPackedWeights& w) {
  const bool bits = w.bits == 2 || w.bits == 3 || w.bits == 4 || w.bits == 8;
  return bits && w.in > 0 && w.in % packed::kChunkCodes == 0 && w.group_size > 0 &&
         w.group_size % packed::kChunkCodes == 0 &&
         w.groups == (w.in + w.group_size - 1) / w.group_size &&
         w.code_row_bytes == w.in * w.bits / 8 && reinterpret_cast<uintptr_t>(w.codes) % 16 == 0;
}

int CudaPackedGemv(const CudaPackedWeights& w, const float* x, int64_t rows, float* y,
                   void* stream) {
  if (!CudaKernelsApply(w) || rows < 1 || rows > kCudaGemvMaxRows ||
      reinterpret_cast<uintptr_t>(x) % 16 != 0) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  if (w.out == 0) return 0;
  if (const cudaError_t e = cudaSetDevice(w.device); e != cudaSuccess) return static_cast<int>(e);
  return ForBits<GemvLauncher>(w.bits, w, x, rows, y, static_cast<cudaStream_t>(stream));
}

int CudaDequantizeRows(const CudaPackedWeights& w, int64_t r0, int64_t r1, CudaDtype dtype,
                       void* dst, void* stream) {
  if (!CudaKernelsApply(w) || r0 < 0 || r1 > w.out || r0 > r1 ||
      reinterpret_cast<uintptr_t>(dst) % 16 != 0) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  if (r1 == r0) return 0;
  if (const cudaError_t e = cudaSetDevice(w.device); e != cudaSuccess) return static_cast<int>(e);
  return ForBits<DequantizeLauncher>(w.bits, w, r0, r1 - r0, dtype, dst,
                                     static_cast<cudaStream_t>(stream));
}

std::string CudaErrorString(int error) {
  return cudaGetErrorString(static_cast<cudaError_t>(error));
}

}  // namespace llmq
