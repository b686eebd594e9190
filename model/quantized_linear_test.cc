// QuantizedLinear against the formula it stands for, computed here independently:
//   W[o, c] = fp16(s[o, g(c)]) * (q[o, c] - z[o, g(c)]),  y = x W^T + b   (in float64)
#include "model/quantized_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "model/quantized_kernels.h"

namespace llmq {
namespace {

struct Case {
  int bits = 4;
  int64_t out = 24, in = 172, group_size = 32;
  bool act_order = false, bias = false;
  bool irregular = false;  // with act_order: groups of unequal sizes (no column_order)
};

struct RandomLayer {
  at::Tensor codes, scales, zeros, g_idx, bias;  // as given to Create
  at::Tensor weight;                             // (out, in) float64 reference
};

RandomLayer MakeLayer(const Case& c, uint64_t seed) {
  at::manual_seed(seed);
  RandomLayer l;
  const int64_t groups = c.group_size < 0 ? 1 : (c.in + c.group_size - 1) / c.group_size;
  const int64_t gs = c.group_size < 0 ? c.in : c.group_size;
  l.codes = at::randint(0, 1 << c.bits, {c.out, c.in}, at::kLong).to(at::kByte);
  l.scales = at::rand({c.out, groups}) * 0.05 + 0.001;
  l.zeros = at::randint(0, 1 << c.bits, {c.out, groups}, at::kLong).to(at::kFloat);
  at::Tensor group_of = at::div(at::arange(c.in, at::kLong), gs, "floor");
  if (c.act_order) {  // groups of a random permutation of the columns, as GPTQ act_order makes
    group_of = c.irregular ? at::randint(0, groups, {c.in}, at::kLong)
                           : group_of.index_select(0, at::argsort(at::randperm(c.in, at::kLong)));
    l.g_idx = group_of.to(at::kInt);
  }
  if (c.bias) l.bias = at::randn({c.out});
  at::Tensor s = l.scales.to(at::kHalf).to(at::kDouble).index_select(1, group_of);
  at::Tensor z = l.zeros.to(at::kDouble).index_select(1, group_of);
  l.weight = s * (l.codes.to(at::kDouble) - z);
  return l;
}

std::unique_ptr<QuantizedLinear> Build(const Case& c, const RandomLayer& l, at::ScalarType dtype) {
  auto q = QuantizedLinear::Create(l.codes, l.scales, l.zeros, l.g_idx, l.bias, c.bits,
                                   c.group_size, dtype);
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? std::move(q).value() : nullptr;
}

// |y - ref| <= rtol * (|x| |W|^T + |b|): the scale of float rounding in a dot product.
void ExpectMatches(const at::Tensor& y, const at::Tensor& x, const RandomLayer& l, double rtol,
                   const std::string& what) {
  at::Tensor xd = x.to(at::kDouble);
  at::Tensor ref = at::matmul(xd, l.weight.t());
  at::Tensor mag = at::matmul(xd.abs(), l.weight.abs().t());
  if (l.bias.defined()) {
    ref = ref + l.bias.to(at::kDouble);
    mag = mag + l.bias.to(at::kDouble).abs();
  }
  ASSERT_EQ(y.sizes(), ref.sizes()) << what;
  at::Tensor excess = (y.to(at::kDouble) - ref).abs() - rtol * mag - 1e-12;
  EXPECT_LE(excess.max().item<double>(), 0.0)
      << what << ": max |diff| " << (y.to(at::kDouble) - ref).abs().max().item<double>();
}

// Forward's bound relative to |x| |W|^T for float32 inputs: float32 rounding on every CPU.
// (The bfloat16 units, where x and W are each rounded to bfloat16, would need 2^-7 + 2^-16:
// they are for bfloat16 inputs only.)
constexpr double kForwardRtol = 1e-5;

TEST(QuantizedLinearTest, ForwardMatchesFormulaFloat32) {
  for (int64_t gs : {-1, 16, 32, 20}) {
    for (int act_order : {0, 1, 2}) {
      for (bool bias : {false, true}) {
        Case c;
        c.group_size = gs;
        c.act_order = act_order > 0;
        c.irregular = act_order == 2;
        c.bias = bias;
        RandomLayer l = MakeLayer(c, 100 + gs);
        auto q = Build(c, l, at::kFloat);
        ASSERT_NE(q, nullptr);
        EXPECT_EQ(q->column_order().defined(), act_order == 1 && gs > 0) << gs;
        EXPECT_TRUE(q->Codes().equal(l.codes));
        EXPECT_TRUE(q->DequantizedWeight().allclose(l.weight.to(at::kFloat), 0, 0));
        for (int64_t rows : {1, 2, 3, 4, 5, 8, 9, 37}) {
          at::Tensor x = at::randn({rows, c.in});
          const std::string what = "gs=" + std::to_string(gs) + " act_order=" +
                                   std::to_string(act_order) + " bias=" + std::to_string(bias) +
                                   " rows=" + std::to_string(rows);
          ExpectMatches(q->Forward(x), x, l, kForwardRtol, what);
          ExpectMatches(q->ForwardWithAtenOps(x), x, l, 1e-5, what + " aten");
        }
      }
    }
  }
}

// Prefill on both sides of kWholeTileMaxWeights and kWholeTileMaxMacs: small products of
// small layers dequantize W whole into one tile for a BLAS GEMM, the rest take the AVX-512
// GEMM where the CPU has it.
TEST(QuantizedLinearTest, PrefillMatchesFormulaOnBothSidesOfTheWholeTileSize) {
  for (int64_t out : {int64_t{381}, int64_t{382}}) {  // 381 x 172 = 65532 weights, 382: 65704
    Case c;
    c.out = out;
    c.bias = true;
    RandomLayer l = MakeLayer(c, 500 + out);
    auto q = Build(c, l, at::kFloat);
    ASSERT_NE(q, nullptr);
    for (int64_t rows : {17, 100, 300}) {  // 300 x 65532 multiply-adds: above the bound
      at::Tensor x = at::randn({rows, c.in});
      ExpectMatches(q->Forward(x), x, l, kForwardRtol,
                    "out=" + std::to_string(out) + " rows=" + std::to_string(rows));
    }
  }
  EXPECT_LT(381 * 172, QuantizedLinear::kWholeTileMaxWeights);
  EXPECT_GT(382 * 172, QuantizedLinear::kWholeTileMaxWeights);
  EXPECT_LT(100 * 381 * 172, QuantizedLinear::kWholeTileMaxMacs);
  EXPECT_GT(300 * 381 * 172, QuantizedLinear::kWholeTileMaxMacs);
}

TEST(QuantizedLinearTest, EveryWidthMatchesFormula) {
  for (int bits = 2; bits <= 8; ++bits) {
    Case c;
    c.bits = bits;
    c.group_size = 20;
    c.out = 17;
    RandomLayer l = MakeLayer(c, 200 + bits);
    auto q = Build(c, l, at::kFloat);
    ASSERT_NE(q, nullptr);
    for (int64_t rows : {1, 37}) {
      at::Tensor x = at::randn({rows, c.in});
      ExpectMatches(q->Forward(x), x, l, kForwardRtol, "bits=" + std::to_string(bits));
    }
    EXPECT_TRUE(q->Codes().equal(l.codes));
    EXPECT_TRUE(q->Zeros().equal(l.zeros.to(at::kByte)));
    EXPECT_TRUE(q->DequantizedWeight().allclose(l.weight.to(at::kFloat), 0, 0));
  }
}

// Group edges at odd columns and odd lengths exercise the 4-bit kernels' edge code.
TEST(QuantizedLinearTest, FourBitOddGroupsAndWidths) {
  for (int64_t in : {1, 2, 31, 33, 64, 65, 257}) {
    for (int64_t gs : {-1, 1, 3, 7, 32, 33}) {
      Case c;
      c.in = in;
      c.out = 5;
      c.group_size = gs;
      RandomLayer l = MakeLayer(c, 300 + in * 7 + gs);
      auto q = Build(c, l, at::kFloat);
      ASSERT_NE(q, nullptr);
      for (int64_t rows : {1, 4, 6}) {
        at::Tensor x = at::randn({rows, in});
        ExpectMatches(q->Forward(x), x, l, kForwardRtol,
                      "in=" + std::to_string(in) + " gs=" + std::to_string(gs) +
                          " rows=" + std::to_string(rows));
      }
    }
  }
}

TEST(QuantizedLinearTest, HalfPrecisionComputeDtypes) {
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    for (int act_order : {0, 1, 2}) {
      Case c;
      c.act_order = act_order > 0;
      c.irregular = act_order == 2;
      c.bias = true;
      RandomLayer l = MakeLayer(c, 400);
      auto q = Build(c, l, dtype);
      ASSERT_NE(q, nullptr);
      for (int64_t rows : {1, 37}) {
        at::Tensor x = at::randn({rows, c.in}).to(dtype);
        at::Tensor y = q->Forward(x);
        EXPECT_EQ(y.scalar_type(), dtype);
        // Inputs are exact in dtype; the error is W's and y's rounding to dtype.
        ExpectMatches(y, x, l, dtype == at::kBFloat16 ? 2e-2 : 4e-3, c10::toString(dtype));
        ExpectMatches(q->ForwardWithAtenOps(x), x, l, dtype == at::kBFloat16 ? 2e-2 : 4e-3,
                      std::string(c10::toString(dtype)) + " aten");
      }
    }
  }
}

TEST(QuantizedLinearTest, KeepsLeadingDimensions) {
  Case c;
  RandomLayer l = MakeLayer(c, 500);
  auto q = Build(c, l, at::kFloat);
  at::Tensor x = at::randn({2, 3, c.in});
  at::Tensor y = q->Forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, c.out}));
  ExpectMatches(y.view({6, c.out}), x.view({6, c.in}), l, kForwardRtol, "3-D");
}

// Bytes: packed codes out*ceil(in*bits/8), fp16 scales out*groups*2, packed zeros
// out*ceil(groups*bits/8), bias in the compute dtype, g_idx 4 per column.
TEST(QuantizedLinearTest, WeightBytesAreThePackedTensors) {
  Case c;
  c.out = 512;
  c.in = 1024;
  c.group_size = 128;
  for (int bits : {2, 3, 4, 8}) {
    c.bits = bits;
    RandomLayer l = MakeLayer(c, 600);
    auto q = Build(c, l, at::kFloat);
    const int64_t groups = 8;
    const double ideal = c.out * c.in * bits / 8.0 + c.out * groups * (2 + bits / 8.0);
    EXPECT_NEAR(static_cast<double>(q->WeightBytes()), ideal, 0.01 * ideal) << bits;
    EXPECT_EQ(q->WeightBytes(), c.out * ((c.in * bits + 7) / 8) + c.out * groups * 2 +
                                    c.out * ((groups * bits + 7) / 8));
  }
  c.bits = 4;
  c.bias = true;
  c.act_order = true;
  RandomLayer l = MakeLayer(c, 601);
  auto q = Build(c, l, at::kBFloat16);
  EXPECT_EQ(q->WeightBytes(),
            c.out * c.in / 2 + c.out * 8 * 2 + c.out * 4 + c.out * 2 /*bias bf16*/ +
                c.in * 4 /*g_idx*/ + c.in * 4 /*column_order*/);
  EXPECT_NE(q->Describe().find("int4 g128"), std::string::npos) << q->Describe();
}

TEST(QuantizedLinearTest, BadInputsAreInvalidArgument) {
  Case c;
  RandomLayer l = MakeLayer(c, 700);
  auto create = [&](at::Tensor codes, at::Tensor scales, at::Tensor zeros, at::Tensor g_idx,
                    int bits, int64_t gs) {
    return QuantizedLinear::Create(codes, scales, zeros, g_idx, at::Tensor(), bits, gs, at::kFloat)
        .status();
  };
  EXPECT_EQ(create(l.codes, l.scales, l.zeros, {}, 9, 32).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes, l.scales, l.zeros, {}, 4, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes, l.scales.narrow(1, 0, 2), l.zeros.narrow(1, 0, 2), {}, 4, 32).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes + 16, l.scales, l.zeros, {}, 4, 32).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes, l.scales, l.zeros + 0.5, {}, 4, 32).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes, l.scales, l.zeros, at::full({c.in}, 99, at::kInt), 4, 32).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes.to(at::kFloat), l.scales, l.zeros, {}, 4, 32).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create(l.codes, l.scales * 1e7, l.zeros, {}, 4, 32).code(), absl::StatusCode::kInvalidArgument);
}

TEST(QuantizedLinearTest, ReportsItsKernel) {
  const std::string name = FusedKernelName();
  EXPECT_TRUE(name == "avx512_bf16" || name == "avx512" || name == "avx2" || name == "portable")
      << name;
  const std::string batched = BatchedKernelName();
  EXPECT_TRUE(batched == "amx_bf16" || batched == name) << batched;
  // What Forward runs per activation dtype: bfloat16 gets the CPU's best, float32 and
  // float16 never the bfloat16 units; float32 prefill the AVX-512 GEMM where there is one,
  // float16 always tiles dequantized for a GEMM, which need the scratch.
  const std::string tiles = "dequantized tiles + GEMM";
  EXPECT_EQ(QuantizedLinear::CpuKernels(at::kBFloat16),
            batched == "amx_bf16" ? "1 row: " + name + ", 2+ rows: amx_bf16"
                                  : "1 row: " + name + ", 2-16 rows: " + name + ", 17+ rows: " + tiles);
  EXPECT_EQ(QuantizedLinear::CpuScratchBytes(at::kBFloat16),
            batched == "amx_bf16" ? 0 : QuantizedLinear::kCpuScratchBytes);
  for (at::ScalarType dtype : {at::kFloat, at::kHalf}) {
    const std::string kernels = QuantizedLinear::CpuKernels(dtype);
    EXPECT_EQ(kernels.find("bf16"), std::string::npos) << kernels;
    EXPECT_EQ(kernels.rfind("1 row: ", 0), 0u) << kernels;
    const bool gemm = dtype == at::kFloat && internal::HasAvx512();
    EXPECT_TRUE(gemm ? absl::StrContains(kernels, "17+ rows: avx512_gemm (below 16777216")
                     : absl::StrContains(kernels, "17+ rows: " + tiles))
        << kernels;
    // Float32 on AMX: 2+ rows on the tiles, x split exactly (other group sizes as before).
    EXPECT_EQ(absl::StrContains(kernels, ", 2+ rows: amx_fp32_split (from 16777216 multiply-adds, groups in 32s; else 2-16 rows"),
              dtype == at::kFloat && MatmulFloat32AmxAvailable())
        << kernels;
    EXPECT_EQ(QuantizedLinear::CpuScratchBytes(dtype), gemm ? 0 : QuantizedLinear::kCpuScratchBytes);
  }
  // Restricted to AVX2, float32 prefill dequantizes tiles too.
  SetFusedKernelForTesting("avx2");
  EXPECT_TRUE(absl::EndsWith(QuantizedLinear::CpuKernels(at::kFloat), "17+ rows: " + tiles));
  EXPECT_EQ(QuantizedLinear::CpuScratchBytes(at::kFloat), QuantizedLinear::kCpuScratchBytes);
  SetFusedKernelForTesting("");
}

// Every fused path this CPU can run (AVX-512, AVX2, portable) against the formula.
TEST(QuantizedLinearTest, EveryFusedKernelMatchesFormula) {
  for (const char* kernel : {"portable", "avx2", "avx512"}) {
    SetFusedKernelForTesting(kernel);
    for (int64_t in : {31, 172, 257}) {
      for (int64_t gs : {-1, 7, 20, 32}) {
        Case c;
        c.in = in;
        c.out = 9;
        c.group_size = gs;
        c.bias = true;
        RandomLayer l = MakeLayer(c, 800 + in + gs);
        auto q = Build(c, l, at::kFloat);
        for (int64_t rows : {1, 3, 5, 8}) {
          at::Tensor x = at::randn({rows, in});
          ExpectMatches(q->Forward(x), x, l, kForwardRtol,
                        std::string(FusedKernelName()) + " in=" + std::to_string(in) +
                            " gs=" + std::to_string(gs) + " rows=" + std::to_string(rows));
        }
      }
    }
  }
  SetFusedKernelForTesting("");
}

}  // namespace
}  // namespace llmq
