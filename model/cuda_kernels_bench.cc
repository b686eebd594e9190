// llmq_cuda_bench: the CUDA kernels (model/quantized_kernels_cuda.h) checked against a
// host reference, then timed, in one binary that needs neither libtorch nor the rest of
// llmq (static cudart, static libstdc++), so that it runs on a bare GPU machine:
//   1. check: random layers of 2/3/4/8 bits, groups of 32 / 128 / a whole row, 384 and
//      2048 columns, 37 rows; the dequantized tiles in float32 equal s * (q - z) computed
//      on the host bit for bit (float16 and bfloat16: that value rounded to nearest even);
//      the GEMV for 1, 2, 3, 5 and 8 rows within float32 rounding of the float64 product.
//      The host side unpacks with its own reader, not the kernels' (model/packed_decode.h).
//   2. bench: 4096 x 4096 layers in groups of 128, the GEMV for 1 and 8 rows, as weight
//      bytes per second against the device's read bandwidth measured in the same run
//      (CudaReadBandwidthGBs over 1 GiB): back-to-back calls over copies of the layer
//      that together exceed the L2 twice, as a model's layers follow each other.
// Exit status 1 if a check fails or no GPU is usable. Built where nvcc is (LLMQ_CUDA_KERNELS);
// where the rest of llmq's dependencies are missing, nvcc alone builds it (one line):
//   nvcc -O3 -std=c++17 -I. model/quantized_kernels_cuda.cu model/cuda_kernels_bench.cc -o llmq_cuda_bench
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "model/quantized_kernels_cuda.h"

namespace llmq {
namespace {

// Float32 -> float16 bits for the scales: values k * 2^-14, 16 <= k < 2048, are exact
// normal float16 numbers.
uint16_t ExactHalfBits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  const int exponent = static_cast<int>((b >> 23) & 0xFF) - 127 + 15;
  return static_cast<uint16_t>((exponent << 10) | ((b >> 13) & 0x3FF));
}

float RoundToBf16(float v) {  // nearest even; finite v
  uint32_t b;
  std::memcpy(&b, &v, 4);
  b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000u;
  std::memcpy(&v, &b, 4);
  return v;
}

float RoundToHalf(float v) {  // nearest even, for |v| in float16's normal range or 0
  if (v == 0) return v;
  int e;
  std::frexp(v, &e);  // v = m 2^e, 0.5 <= |m| < 1: float16 keeps 11 significant bits
  const double step = std::ldexp(1.0, e - 11);
  return static_cast<float>(std::nearbyint(v / step) * step);  // ties to even (default mode)
}

float HalfBitsToFloat(uint16_t h) {  // normal numbers and zero
  if ((h & 0x7FFF) == 0) return 0.0f;
  const uint32_t b = ((h & 0x8000u) << 16) | ((((h >> 10) & 0x1F) - 15 + 127) << 23) | ((h & 0x3FFu) << 13);
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

// Code j of the row at bits [j*bits, (j+1)*bits), little-endian: written bit by bit.
std::vector<uint8_t> PackBits(const std::vector<uint8_t>& codes, int bits) {
  std::vector<uint8_t> out((codes.size() * bits + 7) / 8, 0);
  for (size_t j = 0; j < codes.size(); ++j) {
    for (int k = 0; k < bits; ++k) {
      if ((codes[j] >> k) & 1) out[(j * bits + k) / 8] |= static_cast<uint8_t>(1u << ((j * bits + k) % 8));
    }
  }
  return out;
}

template <typename T>
struct Device {
  T* p = nullptr;
  explicit Device(size_t n) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)) != cudaSuccess) p = nullptr;
  }
  explicit Device(const std::vector<T>& v) : Device(v.size()) {
    if (p != nullptr) cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~Device() { cudaFree(p); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  std::vector<T> Get(size_t n) const {
    std::vector<T> v(n);
    cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
    return v;
  }
};

// A random layer on the host (codes, scales, zeros unpacked) and on the device (packed).
struct Layer {
  int bits;
  int64_t out, in, gs, groups;
  std::vector<uint8_t> q, z;  // (out, in), (out, groups)
  std::vector<uint16_t> s;    // (out, groups) float16 bits
  std::vector<uint8_t> codes, zeros;
  CudaPackedWeights w;
  Device<uint8_t>* dcodes = nullptr;
  Device<uint16_t>* dscales = nullptr;
  Device<uint8_t>* dzeros = nullptr;
  float Scale(int64_t o, int64_t c) const { return HalfBitsToFloat(s[o * groups + c / gs]); }
  float Zero(int64_t o, int64_t c) const { return z[o * groups + c / gs]; }
  ~Layer() { delete dcodes; delete dscales; delete dzeros; }
};

void MakeLayer(Layer& l, int bits, int64_t out, int64_t in, int64_t group_size, uint32_t seed) {
  std::mt19937 rng(seed);
  l.bits = bits, l.out = out, l.in = in;
  l.gs = group_size < 0 ? in : group_size;
  l.groups = (in + l.gs - 1) / l.gs;
  l.q.resize(out * in);
  l.z.resize(out * l.groups);
  l.s.resize(out * l.groups);
  for (uint8_t& v : l.q) v = static_cast<uint8_t>(rng() % (1u << bits));
  for (uint8_t& v : l.z) v = static_cast<uint8_t>(rng() % (1u << bits));
  for (uint16_t& v : l.s) v = ExactHalfBits(std::ldexp(static_cast<float>(16 + rng() % 2032), -14) * 0.25f);
  const int64_t code_row = in * bits / 8, zero_row = (l.groups * bits + 7) / 8;
  for (int64_t o = 0; o < out; ++o) {
    const std::vector<uint8_t> qr(l.q.begin() + o * in, l.q.begin() + (o + 1) * in);
    const std::vector<uint8_t> zr(l.z.begin() + o * l.groups, l.z.begin() + (o + 1) * l.groups);
    const std::vector<uint8_t> pq = PackBits(qr, bits), pz = PackBits(zr, bits);
    l.codes.insert(l.codes.end(), pq.begin(), pq.end());
    l.zeros.insert(l.zeros.end(), pz.begin(), pz.end());
  }
  l.dcodes = new Device<uint8_t>(l.codes);
  l.dscales = new Device<uint16_t>(l.s);
  l.dzeros = new Device<uint8_t>(l.zeros);
  l.w.codes = l.dcodes->p;
  l.w.scales = l.dscales->p;
  l.w.zeros = l.dzeros->p;
  l.w.bits = bits;
  l.w.in = in;
  l.w.out = out;
  l.w.groups = l.groups;
  l.w.group_size = l.gs;
  l.w.code_row_bytes = code_row;
  l.w.zero_row_bytes = zero_row;
}

int failures = 0;

void Fail(const char* what, int bits, int64_t gs, int64_t in, int64_t extra, double detail) {
  ++failures;
  std::printf("FAIL %s bits=%d group=%lld in=%lld (%lld): %g\n", what, bits, static_cast<long long>(gs),
              static_cast<long long>(in), static_cast<long long>(extra), detail);
}

void CheckDequantize(const Layer& l) {
  const int64_t r0 = 3, r1 = l.out - 4, n = (r1 - r0) * l.in;
  for (CudaDtype dtype : {CudaDtype::kFloat32, CudaDtype::kFloat16, CudaDtype::kBFloat16}) {
    const size_t elem = dtype == CudaDtype::kFloat32 ? 4 : 2;
    Device<uint8_t> dst(n * elem);
    int err = CudaDequantizeRows(l.w, r0, r1, dtype, dst.p, nullptr);
    if (err == 0) err = cudaDeviceSynchronize();
    if (err != 0) return Fail("dequantize launch", l.bits, l.gs, l.in, err, 0);
    const std::vector<uint8_t> got = dst.Get(n * elem);
    int64_t bad = 0;
    for (int64_t o = r0; o < r1; ++o) {
      for (int64_t c = 0; c < l.in; ++c) {
        const float v = l.Scale(o, c) * (static_cast<float>(l.q[o * l.in + c]) - l.Zero(o, c));
        const int64_t i = (o - r0) * l.in + c;
        float g;
        if (dtype == CudaDtype::kFloat32) {
          std::memcpy(&g, got.data() + 4 * i, 4);
          bad += g != v;
        } else {
          uint16_t h;
          std::memcpy(&h, got.data() + 2 * i, 2);
          if (dtype == CudaDtype::kBFloat16) {
            const uint32_t b = static_cast<uint32_t>(h) << 16;
            std::memcpy(&g, &b, 4);
            bad += g != RoundToBf16(v);
          } else {
            bad += HalfBitsToFloat(h) != RoundToHalf(v);
          }
        }
      }
    }
    if (bad > 0) Fail("dequantize values", l.bits, l.gs, l.in, static_cast<int64_t>(dtype), static_cast<double>(bad));
  }
}

void CheckGemv(const Layer& l, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  for (int64_t rows : {1, 2, 3, 5, 8}) {
    std::vector<float> x(rows * l.in);
    for (float& v : x) v = normal(rng);
    Device<float> dx(x), dy(rows * l.out);
    int err = CudaPackedGemv(l.w, dx.p, rows, dy.p, nullptr);
    if (err == 0) err = cudaDeviceSynchronize();
    if (err != 0) return Fail("gemv launch", l.bits, l.gs, l.in, err, 0);
    const std::vector<float> y = dy.Get(rows * l.out);
    double worst = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < l.out; ++o) {
        double want = 0, bound = 0;
        for (int64_t c = 0; c < l.in; ++c) {
          const double wv = static_cast<double>(l.Scale(o, c)) * (l.q[o * l.in + c] - l.Zero(o, c));
          want += wv * x[r * l.in + c];
          bound += std::abs(wv * x[r * l.in + c]);
        }
        worst = std::max(worst, std::abs(y[r * l.out + o] - want) / (bound * l.in * 1.2e-7 + 1e-30));
      }
    }
    if (worst > 1) Fail("gemv error over the float32 bound", l.bits, l.gs, l.in, rows, worst);
  }
}

// Microseconds per call: the best of `reps` timed passes (after a warm-up) of one call on
// each of `copies` device copies of the layer's codes, back to back (the scales and zeros,
// 4% of a 4-bit layer's bytes, are shared by the copies). -1 if a launch fails.
double TimeGemv(const Layer& l, int copies, const Device<float>& x, int64_t rows, Device<float>& y, int reps) {
  std::vector<Device<uint8_t>*> codes;
  for (int k = 0; k < copies; ++k) codes.push_back(new Device<uint8_t>(l.codes));
  CudaPackedWeights w = l.w;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  float best = -1;
  bool failed = false;
  for (int r = 0; r <= reps && !failed; ++r) {
    cudaEventRecord(start);
    for (Device<uint8_t>* c : codes) {
      w.codes = c->p;
      failed |= CudaPackedGemv(w, x.p, rows, y.p, nullptr) != 0;
    }
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (r > 0 && (best < 0 || ms < best)) best = ms;  // r == 0: warm-up
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  for (Device<uint8_t>* c : codes) delete c;
  return failed ? -1 : best * 1e3 / copies;
}

int Main() {
  int devices = 0, driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  cudaDeviceProp prop;
  const cudaError_t error = cudaGetDeviceCount(&devices);
  if (error != cudaSuccess || devices == 0 || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::printf("llmq_cuda_bench: no usable GPU (%s; driver's CUDA %d, runtime %d)\n",
                cudaGetErrorString(error), driver, runtime);
    return 1;
  }
  std::printf("llmq_cuda_bench on %s (sm_%d%d, %d SMs, %.0f MB L2; driver's CUDA %d, runtime %d)\n", prop.name,
              prop.major, prop.minor, prop.multiProcessorCount, prop.l2CacheSize / 1e6, driver, runtime);
  if (!CudaKernelsUsable(0)) {
    std::printf("llmq_cuda_bench: the kernels cannot run on this GPU (no code for sm_%d%d, or the driver is older "
                "than the runtime)\n", prop.major, prop.minor);
    return 1;
  }
  std::mt19937 rng(5);
  int checked = 0;
  for (int bits : {2, 3, 4, 8}) {
    for (int64_t gs : {32, 128, -1}) {
      for (int64_t in : {384, 2048}) {
        Layer l;
        MakeLayer(l, bits, 37, in, gs, static_cast<uint32_t>(bits * 7919 + gs + in));
        CheckDequantize(l);
        CheckGemv(l, rng);
        ++checked;
      }
    }
  }
  std::printf("check: %d layers, %d failures\n", checked, failures);
  const double gbs = CudaReadBandwidthGBs(int64_t{1} << 30, 10);
  std::printf("  read_bandwidth %10.1f GB/s\n", gbs);
  std::normal_distribution<float> normal;
  for (int bits : {4, 3, 2, 8}) {
    Layer l;
    MakeLayer(l, bits, 4096, 4096, 128, 11 + bits);
    const double bytes = static_cast<double>(l.codes.size() + 2 * l.s.size() + l.zeros.size());
    const int copies = static_cast<int>(2.0 * prop.l2CacheSize / l.codes.size()) + 2;
    for (int64_t rows : {1, 8}) {
      std::vector<float> xs(rows * 4096);
      for (float& v : xs) v = normal(rng);
      Device<float> x(xs), y(rows * 4096);
      const double us = TimeGemv(l, copies, x, rows, y, 10);
      if (us < 0) {
        Fail("gemv launch in the benchmark", bits, 128, 4096, rows, 0);
        continue;
      }
      std::printf("  int%d_g128/rows=%lld %10.1f us %8.1f GB/s %6.2fx read_bandwidth%s\n", bits,
                  static_cast<long long>(rows), us, bytes / (us * 1e3), bytes / (us * 1e3) / gbs,
                  bits == 4 && rows == 1 ? "  (goal >= 0.60)" : "");
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace llmq

int main() { return llmq::Main(); }
