// The CUDA kernels (model/quantized_kernels_cuda.h) against the CPU: the dequantized tiles
// bit for bit against QuantizedLinear::DequantizedWeight in each dtype, the packed GEMV
// within float32 rounding of the float64 product, and, with a CUDA libtorch, Forward on
// the GPU against Forward on the CPU. The kernels' tests need a GPU and skip without one;
// which layers they take is host code and runs everywhere they are built.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "model/quantized_linear.h"
#include "model/quantized_linear_testing.h"

#ifdef LLMQ_CUDA_KERNELS
#include <cuda_runtime_api.h>

#include "model/quantized_kernels_cuda.h"
#endif

namespace llmq {
namespace {

#ifndef LLMQ_CUDA_KERNELS
TEST(CudaKernelsTest, NotBuilt) { GTEST_SKIP() << "built without nvcc: no CUDA kernels"; }
#else

bool HaveGpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

// A device copy of a CPU tensor's bytes, freed with the holder.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess); }
  explicit DeviceBuffer(const at::Tensor& t) : DeviceBuffer(t.nbytes()) {
    const at::Tensor c = t.contiguous();
    EXPECT_EQ(cudaMemcpy(p, c.data_ptr(), c.nbytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};

at::Tensor ToHost(const DeviceBuffer& d, at::IntArrayRef shape, at::ScalarType dtype) {
  at::Tensor t = at::empty(shape, dtype);
  EXPECT_EQ(cudaMemcpy(t.data_ptr(), d.p, t.nbytes(), cudaMemcpyDeviceToHost), cudaSuccess);
  return t;
}

struct Layer {
  std::unique_ptr<QuantizedLinear> q;
  std::unique_ptr<DeviceBuffer> codes, scales, zeros;
  CudaPackedWeights w;
};

Layer MakeLayer(int bits, int64_t out, int64_t in, int64_t gs, uint64_t seed) {
  Layer l;
  l.q = RandomQuantizedLinear(bits, out, in, gs, seed);
  static_cast<PackedShape&>(l.w) = l.q->packed_shape();
  l.w.device = 0;
  if (HaveGpu()) {
    l.codes = std::make_unique<DeviceBuffer>(l.q->packed_codes());
    l.scales = std::make_unique<DeviceBuffer>(l.q->scales());
    l.zeros = std::make_unique<DeviceBuffer>(l.q->packed_zeros());
    l.w.codes = l.codes->as<uint8_t>();
    l.w.scales = l.scales->as<uint16_t>();
    l.w.zeros = l.zeros->as<uint8_t>();
  } else {
    alignas(16) static const uint8_t kAligned[16] = {};
    l.w.codes = kAligned;  // only CudaKernelsApply looks at it
  }
  return l;
}

TEST(CudaKernelsTest, TakeTheLayersTheyCanRead) {
  EXPECT_TRUE(CudaKernelsApply(MakeLayer(4, 8, 4096, 128, 1).w));
  EXPECT_TRUE(CudaKernelsApply(MakeLayer(3, 8, 320, 128, 1).w));  // a last group of 64
  EXPECT_TRUE(CudaKernelsApply(MakeLayer(2, 8, 256, -1, 1).w));
  EXPECT_TRUE(CudaKernelsApply(MakeLayer(8, 8, 96, 32, 1).w));
  EXPECT_FALSE(CudaKernelsApply(MakeLayer(5, 8, 256, 128, 1).w));   // no 5-bit kernel
  EXPECT_FALSE(CudaKernelsApply(MakeLayer(4, 8, 200, 100, 1).w));   // in % 32
  EXPECT_FALSE(CudaKernelsApply(MakeLayer(4, 8, 256, 48, 1).w));    // groups % 32
  Layer l = MakeLayer(4, 8, 256, 128, 1);
  l.w.codes += 4;  // not 16-byte aligned
  EXPECT_FALSE(CudaKernelsApply(l.w));
  // Declined without a launch: an error, not a crash, and nothing written.
  EXPECT_NE(CudaPackedGemv(l.w, nullptr, 1, nullptr, nullptr), 0);
  EXPECT_NE(CudaPackedGemv(MakeLayer(4, 8, 256, 128, 1).w, nullptr, kCudaGemvMaxRows + 1, nullptr, nullptr), 0);
  alignas(16) static float x[260];
  EXPECT_NE(CudaPackedGemv(MakeLayer(4, 8, 256, 128, 1).w, x + 1, 1, nullptr, nullptr), 0);  // x misaligned
  if (!HaveGpu()) EXPECT_FALSE(CudaKernelsUsable(0));
}

TEST(CudaKernelsTest, DequantizedTilesEqualTheCpuWeight) {
  if (!HaveGpu()) GTEST_SKIP() << "no GPU";
  for (int bits : {2, 3, 4, 8}) {
    for (auto [in, gs] : {std::pair<int64_t, int64_t>{384, 32}, {384, 128}, {384, -1}, {320, 128}}) {
      const int64_t out = 37, r0 = 3, r1 = 30;
      Layer l = MakeLayer(bits, out, in, gs, bits * 100 + gs);
      const at::Tensor want = l.q->DequantizedWeight().narrow(0, r0, r1 - r0);
      for (auto [dtype, kind] : {std::pair{at::kFloat, CudaDtype::kFloat32},
                                 std::pair{at::kHalf, CudaDtype::kFloat16},
                                 std::pair{at::kBFloat16, CudaDtype::kBFloat16}}) {
        DeviceBuffer dst((r1 - r0) * in * at::elementSize(dtype));
        ASSERT_EQ(CudaDequantizeRows(l.w, r0, r1, kind, dst.p, nullptr), 0);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        const at::Tensor got = ToHost(dst, {r1 - r0, in}, dtype);
        EXPECT_TRUE(at::equal(got, want.to(dtype))) << "bits=" << bits << " group " << gs << " " << dtype;
      }
    }
  }
}

TEST(CudaKernelsTest, PackedGemvIsTheFloat32Product) {
  if (!HaveGpu()) GTEST_SKIP() << "no GPU";
  for (int bits : {2, 3, 4, 8}) {
    for (int64_t gs : {32, 128, -1}) {
      for (int64_t in : {320, 384, 4096}) {  // fewer octets than threads, a partial group, several per thread
        const int64_t out = 37;              // the last block's rows partly idle
        Layer l = MakeLayer(bits, out, in, gs, bits * 1000 + gs + in);
        const at::Tensor w64 = l.q->DequantizedWeight().to(at::kDouble);
        for (int64_t rows : {1, 2, 3, 5, 8}) {
          const at::Tensor x = at::randn({rows, in});
          DeviceBuffer dx(x), dy(rows * out * sizeof(float));
          ASSERT_EQ(CudaPackedGemv(l.w, dx.as<float>(), rows, dy.as<float>(), nullptr), 0);
          ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
          const at::Tensor got = ToHost(dy, {rows, out}, at::kFloat).to(at::kDouble);
          const at::Tensor want = at::matmul(x.to(at::kDouble), w64.t());
          const at::Tensor bound = at::matmul(x.abs().to(at::kDouble), w64.abs().t()) * (in * 1.2e-7) + 1e-30;
          EXPECT_TRUE(((got - want).abs() <= bound).all().item<bool>())
              << "bits=" << bits << " group " << gs << " in=" << in << " rows=" << rows << ": max error "
              << (got - want).abs().max().item<double>();
        }
      }
    }
  }
}

// Forward on CUDA tensors (a CUDA libtorch and a GPU): the kernels' paths (up to 8 rows,
// then dequantized tiles) against Forward on the CPU.
TEST(CudaKernelsTest, ForwardOnTheGpuMatchesTheCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA libtorch or no GPU";
  at::manual_seed(3);
  const int64_t out = 96, in = 512, gs = 128;
  at::Tensor codes = at::randint(0, 16, {out, in}, at::kLong).to(at::kByte);
  at::Tensor scales = at::rand({out, in / gs}) * 0.05 + 0.001;
  at::Tensor zeros = at::randint(0, 16, {out, in / gs}, at::kLong).to(at::kFloat);
  at::Tensor bias = at::randn({out});
  auto cpu = QuantizedLinear::Create(codes, scales, zeros, at::Tensor(), bias, 4, gs, at::kFloat);
  auto gpu = QuantizedLinear::Create(codes.cuda(), scales.cuda(), zeros.cuda(), at::Tensor(), bias.cuda(), 4, gs, at::kFloat);
  ASSERT_TRUE(cpu.ok() && gpu.ok());
  const at::Tensor w = (*cpu)->DequantizedWeight();
  for (int64_t rows : {1, 8, 9, 100}) {
    const at::Tensor x = at::randn({rows, in});
    const at::Tensor want = (*cpu)->Forward(x);
    const at::Tensor got = (*gpu)->Forward(x.cuda()).cpu();
    EXPECT_TRUE(at::allclose(got, want, 1e-4, 1e-4)) << "rows=" << rows;
    // bfloat16 / float16 x: x, W (for more than 8 rows) and y each rounded once, so per
    // element within 2^-7 (2^-10) of sum |x||w| plus a rounding of y.
    const at::Tensor magnitude = at::matmul(x.abs(), w.abs().t());
    for (auto [dtype, eps] : {std::pair{at::kBFloat16, 1.0 / 128}, std::pair{at::kHalf, 1.0 / 1024}}) {
      const at::Tensor got16 = (*gpu)->Forward(x.cuda().to(dtype)).cpu().to(at::kFloat);
      const at::Tensor bound = magnitude * (2 * eps) + want.abs() * eps + 1e-6;
      EXPECT_TRUE(((got16 - want).abs() <= bound).all().item<bool>()) << dtype << " rows=" << rows;
    }
  }
}

#endif  // LLMQ_CUDA_KERNELS

}  // namespace
}  // namespace llmq
