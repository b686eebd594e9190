#include "quant/gptq.h"
#include "quant/gptq_block.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include "model/linear.h"
#include "model/quantized_kernels.h"
#include "model/quantized_linear.h"
#include "quant/layer_driver.h"
#include "quant/rtn.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

// Correlated calibration inputs x = z A (tokens, in) and a weight (out, in).
struct Problem {
  at::Tensor x, w, hessian;
};

Problem MakeProblem(int64_t tokens, int64_t in, int64_t out, uint64_t seed) {
  at::manual_seed(seed);
  Problem p;
  at::Tensor z = at::randn({tokens, in});
  at::Tensor mix = at::randn({in, in}) / std::sqrt(static_cast<double>(in));
  p.x = z.matmul(mix) + 0.3 * z;  // (tokens, in)
  p.w = at::randn({out, in});     // (out, in)
  HessianAccumulator acc(in, at::kDouble, at::kCPU);
  acc.Add(p.x.view({4, tokens / 4, in}));  // leading dims are tokens
  p.hessian = acc.Hessian();
  return p;
}

double OutputError(const Problem& p, const at::Tensor& q) {  // ‖X (W − Q)ᵀ‖_F
  return (p.x.matmul((p.w - q).t())).norm().item<double>();
}

TEST(GptqTest, HessianIsTwoOverNSumOfOuterProducts) {
  at::Tensor x = at::tensor({1.0f, 2.0f, -1.0f, 0.0f, 3.0f, 1.0f}).view({3, 2});
  HessianAccumulator acc(2, at::kFloat, at::kCPU);
  acc.Add(x.narrow(0, 0, 1));
  acc.Add(x.narrow(0, 1, 2));
  // Σ xxᵀ = [[1+1+9, 2+0+3], [2+0+3, 4+0+1]] = [[11, 5], [5, 5]]; times 2/3.
  at::Tensor expected = at::tensor({11.0f, 5.0f, 5.0f, 5.0f}).view({2, 2}) * (2.0f / 3.0f);
  EXPECT_EQ(acc.tokens(), 3);
  EXPECT_TRUE(acc.Hessian().allclose(expected));
}

// With uncorrelated inputs (diagonal H) there is nothing to compensate: every error
// update is zero, so GPTQ's codes are RTN's codes.
TEST(GptqTest, DiagonalHessianReducesToRtn) {
  at::manual_seed(1);
  at::Tensor w = at::randn({16, 40});
  at::Tensor h = at::diag(at::rand({40}) + 0.5);
  for (int64_t g : {int64_t{-1}, int64_t{16}, int64_t{7}}) {
    GptqOptions o;
    o.spec = {3, g, false};
    o.block_size = 8;
    auto r = GptqQuantize(w, h, o);
    ASSERT_TRUE(r.ok()) << r.status();
    GroupQuantized rtn = QuantizeGroups(w, o.spec);
    EXPECT_TRUE(r->quantized.codes.equal(rtn.codes)) << g;
    EXPECT_TRUE(r->quantized.scales.allclose(rtn.scales)) << g;
  }
}

// Uᵀ U = H⁻¹ with U upper triangular and a positive diagonal, against a float64 computation
// the textbook way (inverse, then Cholesky).
// Sizes 40 (one triangular solve) and 700 (inverted by halves, twice, with blocks that are
// not whole 64s).
TEST(GptqTest, InverseCholeskyFactorMatchesTheDirectComputation) {
  for (int64_t in : {int64_t{40}, int64_t{700}}) {
    Problem p = MakeProblem(2 * in, in, 4, 10);
    at::Tensor h = p.hessian + 0.01 * p.hessian.diagonal().mean() * at::eye(in);
    at::Tensor u = InverseCholeskyUpper(h);
    ASSERT_TRUE(u.defined());
    at::Tensor expected = at::linalg_cholesky(at::inverse(h.to(at::kDouble)), /*upper=*/true);
    EXPECT_TRUE(u.to(at::kDouble).allclose(expected, 1e-3, 1e-4 * expected.abs().max().item<double>())) << in;
    EXPECT_TRUE(u.tril(-1).eq(0).all().item<bool>()) << in;
  }
  EXPECT_FALSE(InverseCholeskyUpper(-at::eye(3)).defined());
  // Not positive definite only in the second half of the reversed order the factorisation
  // works in (column 50 of h is its 649th), after the first half has factorised: the
  // failure of a block deep in the recursion is reported too.
  at::Tensor indefinite = MakeProblem(1400, 700, 4, 10).hessian + 0.01 * at::eye(700);
  indefinite[50][50] = -1.0f;
  EXPECT_FALSE(InverseCholeskyUpper(indefinite).defined());
}

// Finite entries whose sum overflows are still finite; one inf, opposite infs (whose sum
// is nan) or a nan are not.
TEST(GptqTest, AllFiniteLooksAtEntriesNotAtTheirSum) {
  EXPECT_TRUE(AllFinite(at::randn({300, 300})));
  EXPECT_TRUE(AllFinite(at::full({4}, 3e38f)));  // sums to inf in float32
  at::Tensor t = at::randn({300, 300});
  t[7][11] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(AllFinite(t));
  t[8][11] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(AllFinite(t));
  t = at::randn({300, 300});
  t[299][0] = std::nanf("");
  EXPECT_FALSE(AllFinite(t));
}

// The point of GPTQ: with correlated inputs its output error is below RTN's.
TEST(GptqTest, BeatsRtnOnCorrelatedInputs) {
  Problem p = MakeProblem(1024, 90, 48, 2);
  for (int bits : {2, 3, 4}) {
    for (int64_t g : {int64_t{-1}, int64_t{32}, int64_t{20}}) {  // 20 and 32 do not divide 90
      GptqOptions o;
      o.spec = {bits, g, false};
      o.block_size = 32;
      auto r = GptqQuantize(p.w, p.hessian, o);
      ASSERT_TRUE(r.ok()) << r.status();
      const double gptq = OutputError(p, Dequantize(r->quantized));
      const double rtn = OutputError(p, Dequantize(QuantizeGroups(p.w, o.spec)));
      EXPECT_LT(gptq, 0.9 * rtn) << "bits " << bits << " group " << g;
      EXPECT_EQ(r->quantized.scales.size(1), o.spec.NumGroups(90));
      EXPECT_LE(r->quantized.codes.max().item<int64_t>(), (1 << bits) - 1);
    }
  }
}

TEST(GptqTest, ActOrderAlsoBeatsRtnAndMapsColumnsToGroups) {
  Problem p = MakeProblem(1024, 90, 48, 3);
  GptqOptions o;
  o.spec = {3, 20, false};
  o.act_order = true;
  auto r = GptqQuantize(p.w, p.hessian, o);
  ASSERT_TRUE(r.ok()) << r.status();
  const at::Tensor& g_idx = r->quantized.g_idx;
  ASSERT_TRUE(g_idx.defined());
  // Groups of 20 consecutive columns in act order: group sizes 20, 20, 20, 20, 10.
  at::Tensor counts = at::bincount(g_idx.to(at::kLong));
  EXPECT_TRUE(counts.equal(at::tensor(std::vector<int64_t>{20, 20, 20, 20, 10})));
  EXPECT_LT(OutputError(p, Dequantize(r->quantized)),
            OutputError(p, Dequantize(QuantizeGroups(p.w, o.spec))));
}

// static_groups: group parameters from natural, contiguous column ranges, so no g_idx
// is needed even under act_order, and each group's scale is the one of its columns' range.
TEST(GptqTest, ActOrderWithStaticGroupsKeepsGroupsContiguous) {
  Problem p = MakeProblem(1024, 90, 48, 4);
  GptqOptions o;
  o.spec = {4, 32, false};
  o.act_order = true;
  o.static_groups = true;
  auto r = GptqQuantize(p.w, p.hessian, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->quantized.g_idx.defined());
  GroupQuantized rtn = QuantizeGroups(p.w, o.spec);  // same ranges: scales equal RTN's
  EXPECT_TRUE(r->quantized.scales.allclose(rtn.scales));
  EXPECT_TRUE(r->quantized.zeros.equal(rtn.zeros));
  EXPECT_LT(OutputError(p, Dequantize(r->quantized)), OutputError(p, Dequantize(rtn)));
}

// The row-parallel CPU kernel and the whole-tensor ATen loop (what runs on GPUs) are two
// codings of the same loop: same codes up to rare rounding flips, same group parameters.
TEST(GptqTest, CpuKernelAgreesWithTheAtenLoop) {
  Problem p = MakeProblem(1024, 90, 48, 9);
  for (at::ScalarType scale_dtype : {at::kFloat, at::kHalf}) {
    for (bool act_order : {false, true}) {
      for (bool static_groups : {false, true}) {
        GptqOptions o;
        o.spec = {3, 20, false, scale_dtype};
        o.block_size = 32;
        o.act_order = act_order;
        o.static_groups = static_groups;
        auto kernel = GptqQuantize(p.w, p.hessian, o);
        o.aten_column_loop = true;
        auto aten = GptqQuantize(p.w, p.hessian, o);
        ASSERT_TRUE(kernel.ok() && aten.ok());
        const double same =
            kernel->quantized.codes.eq(aten->quantized.codes).to(at::kDouble).mean().item<double>();
        EXPECT_GT(same, 0.995) << act_order << static_groups << scale_dtype;
        // float16: a scale computed from a slightly different weight may round to the
        // neighbouring float16 value (2^-11 relative away).
        const double rtol = scale_dtype == at::kFloat ? 1e-4 : 1e-3;
        EXPECT_TRUE(kernel->quantized.scales.allclose(aten->quantized.scales, rtol, 1e-5))
            << scale_dtype;
        EXPECT_NEAR(kernel->stats.loss, aten->stats.loss, 1e-3 * aten->stats.loss);
      }
    }
  }
}

// The CPU kernel takes 16 rows at a time on AVX-512 lanes and the rest row by row: the
// same operations in the same order, so the same codes, parameters and loss bit for bit
// as the row loop alone, in every mode (50 rows: three units of 16 and two rows left).
TEST(GptqTest, RowsOnVectorLanesMatchTheRowLoopBitForBit) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  Problem p = MakeProblem(1024, 90, 50, 13);
  p.w.select(0, 7).mul_(40.0);  // a row whose codes clamp at both ends
  struct Mode {
    int bits;
    int64_t group;
    bool sym, act_order, static_groups;
    at::ScalarType scale_dtype;
  };
  for (const Mode& m : {Mode{4, 16, false, false, false, at::kHalf}, Mode{3, 20, false, true, false, at::kFloat},
                        Mode{2, -1, true, false, false, at::kHalf}, Mode{8, 32, true, true, true, at::kHalf},
                        Mode{4, 20, false, false, true, at::kBFloat16}}) {
    GptqOptions o;
    o.spec = {m.bits, m.group, m.sym, m.scale_dtype};
    o.block_size = 32;
    o.act_order = m.act_order;
    o.static_groups = m.static_groups;
    auto lanes = GptqQuantize(p.w, p.hessian, o);
    SetFusedKernelForTesting("avx2");  // below AVX-512: every row through the row loop
    auto rows = GptqQuantize(p.w, p.hessian, o);
    SetFusedKernelForTesting("");
    ASSERT_TRUE(lanes.ok()) << lanes.status();
    ASSERT_TRUE(rows.ok()) << rows.status();
    const std::string mode = std::to_string(m.bits) + " bits, group " + std::to_string(m.group);
    EXPECT_TRUE(lanes->quantized.codes.equal(rows->quantized.codes)) << mode;
    EXPECT_TRUE(lanes->quantized.scales.equal(rows->quantized.scales)) << mode;
    EXPECT_TRUE(lanes->quantized.zeros.equal(rows->quantized.zeros)) << mode;
    EXPECT_EQ(lanes->stats.loss, rows->stats.loss) << mode;
    EXPECT_GT(lanes->quantized.codes.eq(0).sum().item<int64_t>(), 0) << mode;
    EXPECT_GT(lanes->quantized.codes.eq((1 << m.bits) - 1).sum().item<int64_t>(), 0) << mode;
  }
}

// The lazy updates in spans of four blocks regroup the reference schedule's sums (one
// update of all later columns after each block): blocks of 4 columns, groups of 16 (six
// spans over 90 columns, groups inside spans) and groups of 20 (straddling spans: the
// reference's schedule is kept), with and without act_order.
TEST(GptqTest, LazyUpdateSpansMatchTheReferenceSchedule) {
  Problem p = MakeProblem(1024, 90, 48, 12);
  for (int64_t group : {int64_t{16}, int64_t{20}, int64_t{-1}}) {
    for (bool act_order : {false, true}) {
      GptqOptions o;
      o.spec = {3, group, false};
      o.act_order = act_order;
      o.block_size = 4;
      o.lazy_span_blocks = 1;
      auto reference = GptqQuantize(p.w, p.hessian, o);
      o.lazy_span_blocks = 4;
      auto spans = GptqQuantize(p.w, p.hessian, o);
      ASSERT_TRUE(reference.ok() && spans.ok());
      const double same =
          spans->quantized.codes.eq(reference->quantized.codes).to(at::kDouble).mean().item<double>();
      EXPECT_GT(same, 0.995) << group << " " << act_order;
      EXPECT_NEAR(spans->stats.loss, reference->stats.loss, 1e-4 * reference->stats.loss) << group << " " << act_order;
    }
  }
}

// Packs GPTQ's result into a fresh slot (as the packed installation does) and returns the
// float32 weight the packed layer holds; undefined if packing refused.
at::Tensor StoredWeight(const at::Tensor& w, const GroupQuantized& q) {
  std::unique_ptr<Linear> slot = std::make_unique<DenseLinear>(w.clone(), at::Tensor());
  NamedLinear named{"test", &slot, 0};
  const absl::Status status = ReplaceWithQuantized(named, q, at::kFloat);
  EXPECT_TRUE(status.ok()) << status;
  auto* packed = dynamic_cast<QuantizedLinear*>(slot.get());
  return packed != nullptr ? packed->DequantizedWeight() : at::Tensor();
}

// ½ ‖(W − Q) U⁻¹‖², in float64 from scratch: U = upper Cholesky factor of (H + λI)⁻¹,
// λ = damp · mean(diag H). GPTQ's column loop (natural order) makes each column's scaled
// error e_j = (w_j − Σ_{k<j} e_k U_kj − q_j) / U_jj, i.e. W − Q = E U, and reports ½ ‖E‖²;
// so this equals its loss exactly when Q is the weight its error feedback used.
double FeedbackLoss(const at::Tensor& w, const at::Tensor& q, const at::Tensor& hessian,
                    double damp) {
  at::Tensor h = hessian.to(at::kDouble);
  h = h + damp * h.diagonal().mean() * at::eye(h.size(0), h.options());
  at::Tensor u = at::linalg_cholesky(at::inverse(h), /*upper=*/true);
  at::Tensor e = (w.to(at::kDouble) - q.to(at::kDouble)).matmul(at::inverse(u));
  return 0.5 * e.pow(2).sum().item<double>();
}

// The packed layer stores float16 scales; GPTQ run for it (scale_dtype float16) must have
// compensated the errors of exactly those weights: the packed layer's weight is the Q that
// GPTQ returns, bit for bit, and GPTQ's own loss is that of the stored weight. With float32
// scales in the loop and float16 stored (what llmq did before) the stored weight is not
// the one compensated for, and the loss relation shows it.
TEST(GptqTest, PackedLayerHoldsTheWeightTheErrorFeedbackCompensated) {
  Problem p = MakeProblem(1024, 90, 48, 11);
  for (int bits : {3, 4}) {
    for (int64_t g : {int64_t{-1}, int64_t{32}, int64_t{20}}) {
      for (bool aten : {false, true}) {
        const std::string where = "bits " + std::to_string(bits) + " group " +
                                  std::to_string(g) + (aten ? " aten" : " kernel");
        GptqOptions o;
        o.spec = {bits, g, false, QuantizedLinear::kScaleDtype};
        o.block_size = 32;
        o.aten_column_loop = aten;
        auto r = GptqQuantize(p.w, p.hessian, o);
        ASSERT_TRUE(r.ok()) << r.status();
        const at::Tensor stored = StoredWeight(p.w, r->quantized);
        ASSERT_TRUE(stored.defined()) << where;
        EXPECT_TRUE(stored.equal(Dequantize(r->quantized))) << where;
        const double relation = FeedbackLoss(p.w, stored, p.hessian, o.damp) / r->stats.loss - 1;
        EXPECT_LT(std::abs(relation), 1e-6) << where;

        // The old way: float32 scales in the loop, rounded to float16 when packed.
        o.spec.scale_dtype = at::kFloat;
        auto old = GptqQuantize(p.w, p.hessian, o);
        ASSERT_TRUE(old.ok()) << old.status();
        GroupQuantized rounded = old->quantized;
        rounded.scales = rounded.scales.to(at::kHalf).to(at::kFloat);
        const double old_relation =
            FeedbackLoss(p.w, Dequantize(rounded), p.hessian, o.damp) / old->stats.loss - 1;
        EXPECT_GT(std::abs(old_relation), 10 * std::abs(relation)) << where;
        std::printf("%s: loss relation %.2e (fp16 in the loop), %.2e (fp32 in the loop)\n",
                    where.c_str(), relation, old_relation);
      }
    }
  }
}

// act_order (groups in a permuted column order, g_idx) and static groups: the packed layer
// also holds exactly GPTQ's Q.
TEST(GptqTest, PackedLayerHoldsGptqsWeightUnderActOrder) {
  Problem p = MakeProblem(1024, 90, 48, 12);
  for (bool static_groups : {false, true}) {
    GptqOptions o;
    o.spec = {3, 20, false, QuantizedLinear::kScaleDtype};
    o.act_order = true;
    o.static_groups = static_groups;
    auto r = GptqQuantize(p.w, p.hessian, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->quantized.scales.equal(r->quantized.scales.to(at::kHalf).to(at::kFloat)));
    const at::Tensor stored = StoredWeight(p.w, r->quantized);
    ASSERT_TRUE(stored.defined());
    EXPECT_TRUE(stored.equal(Dequantize(r->quantized))) << static_groups;
  }
}

// All-zero input columns: H_ii = 0 -> dead; their weights become exactly zero.
TEST(GptqTest, DeadInputColumnsAreZeroedNotFatal) {
  Problem p = MakeProblem(512, 40, 8, 5);
  p.x.narrow(1, 3, 2).zero_();
  p.x.select(1, 17).zero_();
  HessianAccumulator acc(40, at::kFloat, at::kCPU);
  acc.Add(p.x);
  GptqOptions o;
  o.spec = {4, 16, false};
  auto r = GptqQuantize(p.w, acc.Hessian(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.dead_columns, 3);
  at::Tensor q = Dequantize(r->quantized);
  EXPECT_TRUE(at::isfinite(q).all().item<bool>());
  EXPECT_EQ(q.select(1, 3).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(q.select(1, 17).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(r->stats.damp_final, 0.01);
  EXPECT_EQ(r->stats.damp_retries, 0);
}

// One factor serves every linear that reads the input (q/k/v, gate/up): its dead columns,
// act_order's order and damping give each weight what its own call with the Hessian gives,
// in every mode.
TEST(GptqTest, OneFactorQuantizesEachLinearAsItsHessianDoes) {
  Problem p = MakeProblem(512, 48, 8, 6);
  p.x.select(1, 5).zero_();
  HessianAccumulator acc(48, at::kFloat, at::kCPU);
  acc.Add(p.x);
  const at::Tensor h = acc.Hessian();
  at::manual_seed(7);
  const at::Tensor other = at::randn({12, 48});
  for (bool act_order : {false, true}) {
    for (bool static_groups : {false, true}) {
      GptqOptions o;
      o.spec = {3, 16, false};
      o.act_order = act_order;
      o.static_groups = static_groups;
      auto factor = GptqFactorize(h, o, at::kCPU);
      ASSERT_TRUE(factor.ok()) << factor.status();
      EXPECT_EQ(factor->stats.dead_columns, 1);
      EXPECT_EQ(factor->perm.defined(), act_order);
      for (const at::Tensor& w : {p.w, other}) {
        auto shared = GptqQuantize(w, *factor, o);
        auto alone = GptqQuantize(w, h, o);
        ASSERT_TRUE(shared.ok()) << shared.status();
        ASSERT_TRUE(alone.ok()) << alone.status();
        const std::string mode = std::to_string(act_order) + std::to_string(static_groups);
        EXPECT_TRUE(shared->quantized.codes.equal(alone->quantized.codes)) << mode;
        EXPECT_TRUE(shared->quantized.scales.equal(alone->quantized.scales)) << mode;
        EXPECT_TRUE(shared->quantized.zeros.equal(alone->quantized.zeros)) << mode;
        EXPECT_EQ(shared->quantized.g_idx.defined(), alone->quantized.g_idx.defined()) << mode;
        if (alone->quantized.g_idx.defined()) {
          EXPECT_TRUE(shared->quantized.g_idx.equal(alone->quantized.g_idx)) << mode;
        }
        EXPECT_EQ(shared->stats.loss, alone->stats.loss) << mode;
        EXPECT_EQ(Dequantize(shared->quantized).select(1, 5).abs().max().item<float>(), 0.0f);
      }
    }
  }
  GptqOptions o;
  o.spec = {4, 16, false};
  auto factor = GptqFactorize(h, o, at::kCPU);
  ASSERT_TRUE(factor.ok());
  auto mismatched = GptqQuantize(at::randn({4, 32}), *factor, o, "layer");
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("do not match"), std::string::npos) << mismatched.status();
}

// Duplicate input columns make H singular; the default damping copes.
TEST(GptqTest, DuplicateInputColumnsQuantizeFinitely) {
  Problem p = MakeProblem(512, 40, 8, 6);
  p.x.narrow(1, 20, 20).copy_(p.x.narrow(1, 0, 20));
  HessianAccumulator acc(40, at::kFloat, at::kCPU);
  acc.Add(p.x);
  GptqOptions o;
  o.spec = {4, 8, false};
  auto r = GptqQuantize(p.w, acc.Hessian(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(at::isfinite(Dequantize(r->quantized)).all().item<bool>());
}

// A rank-1 Hessian with no damping: the second Cholesky pivot is exactly 1 - 1 = 0, so the
// factorisation fails; damping is raised (to 1e-4 first) and the rise is recorded.
TEST(GptqTest, FailedCholeskyRaisesDampingAndRecordsIt) {
  at::manual_seed(7);
  at::Tensor w = at::randn({6, 12});
  GptqOptions o;
  o.spec = {4, -1, false};
  o.damp = 0;
  auto r = GptqQuantize(w, at::ones({12, 12}), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->stats.damp_retries, 1);
  EXPECT_GE(r->stats.damp_final, 1e-4);
  EXPECT_TRUE(at::isfinite(Dequantize(r->quantized)).all().item<bool>());
}

// No damping makes -I positive definite: the call fails after the cap, with the layer name.
TEST(GptqTest, GivesUpWithAClearErrorAfterTheDampingCap) {
  GptqOptions o;
  o.spec = {4, -1, false};
  auto r = GptqQuantize(at::ones({4, 8}), -at::eye(8), o, "model.layers.0.mlp.up_proj");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("model.layers.0.mlp.up_proj"), std::string::npos);
  EXPECT_NE(r.status().message().find("damp"), std::string::npos);

  at::Tensor nan_h = at::eye(8);
  nan_h[2][2] = std::nanf("");
  EXPECT_EQ(GptqQuantize(at::ones({4, 8}), nan_h, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(GptqQuantize(at::ones({4, 8}), at::eye(7), o).ok());
}

// The proxy loss is ½ Σ ((w − q) / U_jj)², which for H = c·I (U_jj = 1/sqrt(c(1+damp)))
// is ½ c (1 + damp) Σ (w − q)².
TEST(GptqTest, LossMatchesClosedFormForScaledIdentity) {
  at::manual_seed(8);
  at::Tensor w = at::randn({5, 24});
  GptqOptions o;
  o.spec = {3, 8, false};
  auto r = GptqQuantize(w, 4.0 * at::eye(24), o);
  ASSERT_TRUE(r.ok());
  const double sq = (Dequantize(r->quantized) - w).pow(2).sum().item<double>();
  EXPECT_NEAR(r->stats.loss, 0.5 * 4.0 * 1.01 * sq, 1e-4 * r->stats.loss);
}

// The upper-triangle accumulation (tiles of kHessianTile, a last tile that is shorter)
// gives the full product: checked against Σ xᵀx in float64.
TEST(GptqTest, SymmetricHessianEqualsTheFullProduct) {
  at::manual_seed(21);
  const int64_t in = 2 * HessianAccumulator::kHessianTile + 37;
  at::Tensor x1 = at::randn({3, 50, in}), x2 = at::randn({70, in}) + 0.5;
  HessianAccumulator symmetric(in, at::kFloat, at::kCPU), full(in, at::kFloat, at::kCPU, false);
  for (HessianAccumulator* acc : {&symmetric, &full}) {
    acc->Add(x1);
    acc->Add(x2);
  }
  at::Tensor x = at::cat({x1.reshape({-1, in}), x2}, 0).to(at::kDouble);  // (220, in)
  at::Tensor expected = (x.t().matmul(x) * (2.0 / 220.0)).to(at::kFloat);
  at::Tensor h = symmetric.Hessian();
  EXPECT_EQ(symmetric.tokens(), 220);
  EXPECT_TRUE(h.equal(h.t()));
  EXPECT_TRUE(h.allclose(expected, 1e-5, 1e-4));
  EXPECT_TRUE(full.Hessian().allclose(expected, 1e-5, 1e-4));
  // Half the products plus the diagonal tiles' lower halves: 2n·Σ_tiles t·(in − start).
  const int64_t t = HessianAccumulator::kHessianTile;
  EXPECT_EQ(HessianAccumulator::AddFlops(10, in, true),
            2.0 * 10 * (t * in + t * (in - t) + 37.0 * 37.0));
  EXPECT_EQ(HessianAccumulator::AddFlops(10, in, false), 2.0 * 10 * in * in);
}

// One Hessian per distinct input (q/k/v share one, gate/up share one; Phi's q/k/v/fc1 share
// one) quantizes every linear exactly as one Hessian per linear: the inputs are the same
// tensor, so the sums are the same. Each shared Hessian saw the calibration tokens once and
// was factorised once.
TEST(GptqTest, SharedHessiansQuantizeAsPerLinearHessians) {
  using testing_models::RandomModel;
  using testing_models::TinyConfig;
  for (Architecture arch : {Architecture::kLlama, Architecture::kPhi}) {
    std::map<std::string, GroupQuantized> results[2];
    for (int shared = 0; shared < 2; ++shared) {
      auto model = RandomModel(TinyConfig(arch, true), 3);
      at::manual_seed(4);
      at::Tensor tokens = at::randint(97, {3, 16}, at::kLong);
      GptqOptions o;
      o.spec = {4, 16, false, QuantizedLinear::kScaleDtype};
      GptqHessianOptions hessian;
      hessian.share = shared == 1;
      hessian.symmetric = shared == 1;
      std::vector<LayerRecord> records;
      auto install = [&](const NamedLinear& linear, const GroupQuantized& q) {
        results[shared][linear.name] = q;
        return ReplaceWithQuantized(linear, q, at::kFloat);
      };
      auto method = MakeGptqMethod(o, nullptr, install, &records, hessian);
      ASSERT_TRUE(RunLayerSequential(*model, tokens, *method, {}).ok());
      for (const LayerRecord& r : records) EXPECT_EQ(r.stats.at("tokens"), 48) << r.name;
      // One factorisation per distinct input: the linears after the first of an input
      // (k and v, up; Phi's k, v and fc1) reuse its factor and record no factor time.
      int reused = 0;
      for (const LayerRecord& r : records) reused += r.stats.at("factor_seconds") == 0;
      EXPECT_EQ(reused, shared == 1 ? 3 * TinyConfig(arch, true).num_layers : 0);
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    ASSERT_FALSE(results[0].empty());
    for (const auto& [name, q] : results[0]) {
      const GroupQuantized& other = results[1].at(name);
      EXPECT_TRUE(q.codes.equal(other.codes)) << name;
      EXPECT_TRUE(q.scales.equal(other.scales)) << name;
      EXPECT_TRUE(q.zeros.equal(other.zeros)) << name;
    }
  }
}

}  // namespace
}  // namespace llmq
