// The fused attention against float64 attention of the same inputs (head sizes around its
// 16-wide steps and its 128-feature chunks, query groups, caches with padding and holes,
// both dtypes), and its padding invariance bit for bit: a request's outputs do not depend
// on where its tokens sit in the cache or on the other rows of the batch.
#include "model/fused_attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/quantized_kernels.h"

namespace llmq {
namespace {

// float64 softmax(scale q k^T) v over the allowed keys (real slots <= past + i); queries
// with none get zeros. q (batch, heads, seq, hd), k/v (batch, kv, past + seq, hd).
at::Tensor Reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_mask, int64_t past, double scale) {
  const int64_t batch = q.size(0), heads = q.size(1), seq = q.size(2), hd = q.size(3);
  const int64_t group = heads / k.size(1), total = k.size(2);
  at::Tensor out = at::zeros({batch, seq, heads * hd}, at::kDouble);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      const at::Tensor qd = q[b][h].to(at::kDouble), kd = k[b][h / group].to(at::kDouble),
                       vd = v[b][h / group].to(at::kDouble);
      for (int64_t i = 0; i < seq; ++i) {
        at::Tensor allowed = key_mask[b].clone();
        allowed.narrow(0, past + i + 1, total - past - i - 1).fill_(false);
        if (!allowed.any().item<bool>()) continue;
        at::Tensor s = (kd.matmul(qd[i]) * scale).masked_fill(allowed.logical_not(), -INFINITY);
        out[b][i].narrow(0, h * hd, hd).copy_(at::softmax(s, 0).matmul(vd));
      }
    }
  }
  return out;
}

// Largest |fused - reference| relative to the largest |reference|.
double RelativeError(const at::Tensor& fused, const at::Tensor& reference) {
  return (fused.to(at::kDouble) - reference).abs().max().item<double>() /
         std::max(1e-30, reference.abs().max().item<double>());
}

struct Shape {
  int64_t batch, heads, kv_heads, seq, past, hd;
};

// q as the projections' transposed view; k/v as a cache of past + seq slots with padding:
// batch row 0 all real, row 1 left padding, row 2 a hole in the middle (a cache whose
// prefix was left-padded to a shorter width), row 3 right padding.
struct Inputs {
  at::Tensor q, k, v, key_mask;
};

Inputs MakeInputs(const Shape& s, at::ScalarType dtype) {
  const int64_t total = s.past + s.seq;
  Inputs in;
  in.q = at::randn({s.batch, s.seq, s.heads, s.hd}).mul_(2).to(dtype).transpose(1, 2);
  in.k = at::randn({s.batch, s.kv_heads, total, s.hd}).to(dtype);
  in.v = at::randn({s.batch, s.kv_heads, total, s.hd}).to(dtype);
  in.key_mask = at::ones({s.batch, total}, at::kBool);
  if (s.batch > 1) in.key_mask[1].narrow(0, 0, total / 3).fill_(false);
  if (s.batch > 2 && total > 4) in.key_mask[2].narrow(0, total / 4, total / 4).fill_(false);
  if (s.batch > 3) in.key_mask[3].narrow(0, total - total / 5, total / 5).fill_(false);
  return in;
}

// Both bfloat16 paths: the AMX tiles where the CPU has them and head_dim is a multiple of
// 32 ("" = best; on other CPUs the same FMAs as "avx512"), and float32 FMAs.
class FusedAttentionPathTest : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { SetFusedKernelForTesting(GetParam()); }
  void TearDown() override { SetFusedKernelForTesting(""); }
};

TEST_P(FusedAttentionPathTest, MatchesFloat64Attention) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512: transformer.cc uses the ATen ops";
  at::manual_seed(11);
  const std::vector<Shape> shapes = {
      {4, 4, 2, 37, 0, 8},     // stories260K's heads; no cache
      {4, 8, 2, 5, 70, 64},    // Llama-like group of 4, a cache
      {4, 6, 6, 90, 0, 80},    // phi-2's head size, no grouping
      {2, 4, 1, 3, 130, 136},  // one KV head; more than 128 features, not a multiple of 16
      {1, 32, 8, 1, 200, 64},  // decode: one query
      {3, 4, 4, 130, 3, 18},   // keys past one 64-key block, odd 16-groups
      {4, 8, 2, 130, 0, 64},   // several work items per head, queries without keys (row 1)
      {2, 2, 1, 70, 10, 128},  // head_dim 128: four 32-feature steps on the tiles
  };
  for (const Shape& s : shapes) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(testing::Message() << "heads " << s.heads << "/" << s.kv_heads << " seq " << s.seq
                                      << " past " << s.past << " hd " << s.hd << " dtype " << dtype);
      const Inputs in = MakeInputs(s, dtype);
      const double scale = 1.0 / std::sqrt(static_cast<double>(s.hd));
      const at::Tensor fused = FusedCausalAttention(in.q, in.k, in.v, in.key_mask, s.past, scale);
      ASSERT_TRUE(fused.defined());
      ASSERT_EQ(fused.sizes(), (std::vector<int64_t>{s.batch, s.seq, s.heads * s.hd}));
      ASSERT_EQ(fused.scalar_type(), dtype);
      const at::Tensor reference = Reference(in.q, in.k, in.v, in.key_mask, s.past, scale);
      // float32: sums of up to a few hundred float32 terms; bfloat16: the result's rounding
      // (2^-9 relative) and, on the tiles, the numerators' (2^-9 each, averaging out).
      EXPECT_LT(RelativeError(fused, reference), dtype == at::kFloat ? 2e-6 : 6e-3);
    }
  }
}

TEST(FusedAttentionTest, QueriesWithoutKeysGiveZeros) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512";
  at::manual_seed(12);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const Shape s{2, 4, 2, 6, 0, 64};
    Inputs in = MakeInputs(s, dtype);
    in.key_mask[1].narrow(0, 0, 4).fill_(false);  // row 1: queries 0..3 see no real key
    in.v[1].select(1, 5).fill_(INFINITY);          // a later key's value: 0 * inf is NaN
    const at::Tensor fused = FusedCausalAttention(in.q, in.k, in.v, in.key_mask, 0, 0.25);
    EXPECT_TRUE(fused[1].narrow(0, 0, 4).eq(0).all().item<bool>()) << dtype;
    EXPECT_TRUE(fused[1].narrow(0, 4, 1).ne(0).any().item<bool>()) << dtype;
    EXPECT_TRUE(at::isfinite(fused[0]).all().item<bool>()) << dtype;
  }
}

// One request (context of 150 tokens, then 5 more) in three layouts: alone from slot 0;
// left-padded into a cache of width 170 with its 5 last tokens appended after it (context
// reuse); right-padded in a batch with another, longer request. The last 5 queries'
// outputs must be equal bit for bit.
TEST_P(FusedAttentionPathTest, OutputsDoNotDependOnPaddingOrBatch) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512";
  at::manual_seed(13);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const int64_t heads = 8, kv = 2, hd = 64, context = 150, rest = 5, len = context + rest;
    const at::Tensor q = at::randn({1, heads, len, hd}).to(dtype);
    const at::Tensor k = at::randn({1, kv, len, hd}).to(dtype);
    const at::Tensor v = at::randn({1, kv, len, hd}).to(dtype);
    const double scale = 0.125;
    // Alone.
    const at::Tensor alone = FusedCausalAttention(q, k, v, at::ones({1, len}, at::kBool), 0, scale);
    // Reuse: slots [20, 170) hold the context, [170, 175) the rest; 5 queries, past 170.
    const int64_t width = 170;
    // Padding slots hold NaN: read, they would show.
    at::Tensor kc = at::full({1, kv, width + rest, hd}, NAN).to(dtype), vc = at::full({1, kv, width + rest, hd}, NAN).to(dtype);
    kc.narrow(2, width - context, len).copy_(k);
    vc.narrow(2, width - context, len).copy_(v);
    at::Tensor mask = at::ones({1, width + rest}, at::kBool);
    mask.narrow(1, 0, width - context).fill_(false);
    const at::Tensor reused =
        FusedCausalAttention(q.narrow(2, context, rest), kc, vc, mask, width, scale);
    // Batched: row 1 is ours, right-padded to the other row's 300 tokens.
    const int64_t wide = 300;
    at::Tensor qb = at::randn({2, heads, wide, hd}).to(dtype), kb = at::randn({2, kv, wide, hd}).to(dtype),
               vb = at::randn({2, kv, wide, hd}).to(dtype);
    qb[1].fill_(NAN);
    kb[1].fill_(NAN);
    vb[1].fill_(NAN);
    qb[1].narrow(1, 0, len).copy_(q[0]);
    kb[1].narrow(1, 0, len).copy_(k[0]);
    vb[1].narrow(1, 0, len).copy_(v[0]);
    at::Tensor bmask = at::ones({2, wide}, at::kBool);
    bmask[1].narrow(0, len, wide - len).fill_(false);
    const at::Tensor batched = FusedCausalAttention(qb, kb, vb, bmask, 0, scale);
    const at::Tensor want = alone[0].narrow(0, context, rest);
    EXPECT_TRUE(at::equal(reused[0], want)) << dtype;
    EXPECT_TRUE(at::equal(batched[1].narrow(0, context, rest), want)) << dtype;
    EXPECT_TRUE(at::equal(batched[1].narrow(0, 0, len), alone[0])) << dtype;
  }
}

INSTANTIATE_TEST_SUITE_P(Bfloat16Units, FusedAttentionPathTest, testing::Values("", "avx512"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(*info.param ? info.param : "best");
                         });

// One query whose scores run from 0 down to -110 over 2001 keys (exp into the denormals,
// and 0 below -104), each key's value a unit vector: the output is the probabilities.
TEST(FusedAttentionTest, ProbabilitiesAcrossExpsRange) {
  if (!internal::HasAvx512()) GTEST_SKIP() << "no AVX-512";
  const int64_t keys = 2001;
  const at::Tensor scores = at::linspace(0, -110, keys);
  at::Tensor q = at::zeros({1, 1, keys, keys}), k = at::zeros({1, 1, keys, keys});
  q[0][0][keys - 1][0] = 1.0f;
  k[0][0].select(1, 0).copy_(scores);
  const at::Tensor v = at::eye(keys).view({1, 1, keys, keys});
  const at::Tensor got =
      FusedCausalAttention(q, k, v, at::ones({1, keys}, at::kBool), 0, 1.0)[0][keys - 1].to(at::kDouble);
  // float64 softmax of the same float32 scores.
  const at::Tensor e = scores.to(at::kDouble).exp();
  const at::Tensor want = e / e.sum();
  const at::Tensor err = (got - want).abs();
  EXPECT_TRUE((err <= want * 1e-6 + 1e-44).all().item<bool>()) << "max error " << err.max().item<double>();
  EXPECT_EQ(got[keys - 1].item<double>(), 0.0);  // exp(-110) underflows
  const double denormal = got[1727].item<double>();  // score -94.99
  EXPECT_GT(denormal, 0.0);
  EXPECT_LT(denormal, 1.1754943508222875e-38);
}

TEST(FusedAttentionTest, DeclinesWhatItDoesNotCompute) {
  const at::Tensor q = at::randn({1, 4, 3, 16}), k = at::randn({1, 2, 3, 16}), v = at::randn({1, 2, 3, 16});
  const at::Tensor mask = at::ones({1, 3}, at::kBool);
  EXPECT_FALSE(FusedCausalAttention(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble), mask, 0, 0.25)
                   .defined());
  EXPECT_FALSE(FusedCausalAttention(q, k, v, mask, 1, 0.25).defined());            // past + seq != slots
  EXPECT_FALSE(FusedCausalAttention(q, at::randn({1, 3, 3, 16}), at::randn({1, 3, 3, 16}), mask, 0, 0.25)
                   .defined());                                                     // 4 heads, 3 KV heads
  EXPECT_FALSE(FusedCausalAttention(q, k, v, mask.to(at::kLong), 0, 0.25).defined());  // mask not bool
  const at::Tensor strided = at::randn({1, 2, 16, 3}).transpose(2, 3);  // features not contiguous
  EXPECT_FALSE(FusedCausalAttention(q, strided, strided, mask, 0, 0.25).defined());
}

}  // namespace
}  // namespace llmq
