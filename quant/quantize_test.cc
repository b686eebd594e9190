#include "quant/quantize.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "common/params.h"
#include "grid/schema.h"
#include "model/quantized_kernels.h"
#include "model/quantized_linear.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

using testing_models::RandomModel;
using testing_models::RandomCalibration;
using testing_models::TinyConfig;

// The weight a slot computes with: dense, or what a packed layer dequantizes to.
at::Tensor WeightOf(const NamedLinear& l) {
  if (at::Tensor* w = (*l.slot)->mutable_dense_weight()) return *w;
  auto* packed = dynamic_cast<QuantizedLinear*>(l.slot->get());
  EXPECT_NE(packed, nullptr) << l.name;
  return packed != nullptr ? packed->DequantizedWeight() : at::Tensor();
}

// Distinct values per (row, group) of a quantized weight never exceed 2^bits.
int64_t MaxLevelsPerGroup(const at::Tensor& w, int64_t group) {
  int64_t most = 0;
  for (int64_t r = 0; r < w.size(0); ++r) {
    for (int64_t b = 0; b < w.size(1); b += group) {
      at::Tensor g = w[r].narrow(0, b, std::min(group, w.size(1) - b));
      most = std::max(most, std::get<0>(at::_unique(g)).numel());
    }
  }
  return most;
}

TEST(QuantizeTest, ResolvesDefaultsAndRejectsUnknownParameters) {
  auto p = ResolveQuantizationParams("gptq", {{"bits", "3"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("bits"), "3");
  EXPECT_EQ(p->at("group_size"), "128");
  EXPECT_EQ(p->at("damp"), "0.01");
  EXPECT_EQ(p->at("true_sequential"), "true");
  EXPECT_EQ(ResolveQuantizationParams("awq", {})->at("grid"), "20");
  EXPECT_FALSE(ResolveQuantizationParams("rtn", {{"damp", "0.1"}}).ok());
  EXPECT_FALSE(ResolveQuantizationParams("gptq", {{"bits", "9"}}).ok());
  EXPECT_FALSE(ResolveQuantizationParams("gptq", {{"group_size", "0"}}).ok());
  EXPECT_FALSE(ResolveQuantizationParams("gptq", {{"act_order", "maybe"}}).ok());
  auto unknown = ResolveQuantizationParams("qat", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown quantization method 'qat'"), absl::string_view::npos)
      << unknown.status();
  EXPECT_TRUE(ResolveQuantizationParams("gsq", {{"group_size", "-1"}, {"clip", "false"}}).ok());
}

// The grid schema is the one table of defaults: quantizing with no parameters asks for
// exactly the schema's parameters of the method (none it lacks, none it leaves unread) and
// runs with its defaults.
TEST(QuantizeTest, ReadsExactlyTheSchemaParametersWithTheSchemaDefaults) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  for (const std::string method : {"rtn", "gptq", "awq", "gsq", "smoothquant", "fp8", "llm_int8", "spqr"}) {
    const GridEntrySchema* schema = FindGridMethod(method);
    ASSERT_NE(schema, nullptr) << method;
    auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
    ParamReadLog log;
    auto report = QuantizeModelWithCalibration(*model, method, {}, &calibration);
    ASSERT_TRUE(report.ok()) << method << ": " << report.status();
    std::set<std::string> in_schema;
    for (const GridParamSchema& param : schema->params) {
      in_schema.insert(param.name);
      EXPECT_EQ(report->params.at(param.name), param.default_value) << method << "." << param.name;
    }
    std::set<std::string> read = log.names();
    read.insert("keep");  // read as the map entries p.at("keep"), p.at("overrides"), not
    read.insert("overrides");  // through a getter; likewise block at its default
    read.insert("block");
    read.insert("scan");  // the grid's expansion directive: no quantizer reads it
    EXPECT_EQ(read, in_schema) << method;
  }
}

TEST(QuantizeTest, DescriptionIsStableAndOrderFree) {
  const std::string a = DescribeQuantization(
      "gptq", *ResolveQuantizationParams("gptq", {{"bits", "3"}, {"damp", "0.1"}}),
      "c4 first 2x8 seed=0", "ab");
  const std::string b = DescribeQuantization(
      "gptq", *ResolveQuantizationParams("gptq", {{"damp", "0.1"}, {"bits", "3"}}),
      "c4 first 2x8 seed=0", "ab");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a,
            "gptq act_order=false bits=3 block_size=128 damp=0.1 group_size=128 keep= "
            "static_groups=false sym=false true_sequential=true | calibration c4 first 2x8 seed=0 "
            "sha256=ab");
}

// RTN puts QuantizeGroups(W) with the packed layer's float16 scales into every block
// linear except the kept ones, which stay dense and untouched.
TEST(QuantizeTest, RtnQuantizesEveryBlockLinearExceptKeptOnes) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  std::map<std::string, at::Tensor> original;
  for (const NamedLinear& l : model->Linears())
    original[l.name] = (*l.slot)->mutable_dense_weight()->clone();
  auto report = QuantizeModelWithCalibration(
      *model, "rtn", {{"bits", "3"}, {"group_size", "32"}, {"keep", "*.layers.1.mlp.*"}}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->layers.size(), 14u);
  for (const NamedLinear& l : model->Linears()) {
    at::Tensor w = WeightOf(l);
    const bool kept = l.layer < 0 || l.name.find("layers.1.mlp") != std::string::npos;
    EXPECT_EQ((*l.slot)->mutable_dense_weight() != nullptr, kept) << l.name;
    if (kept) {
      EXPECT_TRUE(w.equal(original[l.name])) << l.name;
    } else {
      at::Tensor expected =
          Dequantize(QuantizeGroups(original[l.name], {3, 32, false, at::kHalf}));
      EXPECT_TRUE(w.equal(expected)) << l.name;
    }
  }
  EXPECT_EQ(report->provenance.at("storage"), "packed");
}

// The packed layers store float16 scales, so the codes RTN (and AWQ, here with no scaling
// and no clipping: α = 0 only, so it is RTN too) put into them must be the nearest codes of
// the original weight under the stored scales and zeros. Computing codes with float32
// scales and rounding the scales afterwards breaks this for weights near a rounding tie.
TEST(QuantizeTest, PackedCodesAreTheNearestCodesUnderTheStoredScales) {
  CalibrationSet calibration = RandomCalibration(4, 16);
  for (const std::string method : {"rtn", "awq"}) {
    auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 4);
    std::map<std::string, at::Tensor> original;
    for (const NamedLinear& l : model->Linears())
      original[l.name] = (*l.slot)->mutable_dense_weight()->to(at::kFloat).clone();
    Params params = {{"bits", "4"}, {"group_size", "16"}};
    if (method == "awq") params.insert({{"grid", "1"}, {"clip", "false"}});
    auto report = QuantizeModelWithCalibration(*model, method, params,
                                               method == "rtn" ? nullptr : &calibration);
    ASSERT_TRUE(report.ok()) << report.status();
    int64_t checked = 0;
    for (const NamedLinear& l : model->Linears()) {
      if (l.layer < 0) continue;
      auto* packed = dynamic_cast<QuantizedLinear*>(l.slot->get());
      ASSERT_NE(packed, nullptr) << l.name;
      const at::Tensor& w = original[l.name];
      at::Tensor group = at::div(at::arange(w.size(1), at::kLong), 16, "floor");
      at::Tensor s = packed->scales().to(at::kFloat).index_select(1, group);
      at::Tensor z = packed->Zeros().to(at::kFloat).index_select(1, group);
      at::Tensor nearest = at::clamp(at::round(w / s) + z, 0, 15);
      EXPECT_TRUE(packed->Codes().to(at::kFloat).equal(nearest))
          << method << " " << l.name << ": "
          << packed->Codes().to(at::kFloat).ne(nearest).sum().item<int64_t>() << " codes differ";
      checked += w.numel();
    }
    EXPECT_GT(checked, 10000) << method;
  }
}

// What a calibrated method computes from its calibration inputs, and so the codes it
// exports, does not depend on which packed kernels this CPU has: the layers already
// quantized feed the later ones through float32 kernels on every CPU, not bfloat16 units
// on those that have them. (On a CPU without the bfloat16 units both runs take the same
// kernels.)
TEST(QuantizeTest, CalibratedCodesDoNotDependOnTheCpusPackedKernels) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  for (const std::string method : {"gptq", "awq"}) {
    std::vector<at::Tensor> codes[2];
    for (int run = 0; run < 2; ++run) {
      SetFusedKernelForTesting(run == 0 ? "" : "avx512");
      auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 5);
      auto report = QuantizeModelWithCalibration(*model, method, {{"bits", "4"}, {"group_size", "16"}},
                                                 &calibration);
      ASSERT_TRUE(report.ok()) << report.status();
      for (const NamedLinear& l : model->Linears()) {
        if (auto* packed = dynamic_cast<QuantizedLinear*>(l.slot->get())) codes[run].push_back(packed->Codes());
      }
    }
    SetFusedKernelForTesting("");
    ASSERT_EQ(codes[0].size(), codes[1].size());
    ASSERT_FALSE(codes[0].empty());
    int64_t differ = 0;
    for (size_t i = 0; i < codes[0].size(); ++i) differ += codes[0][i].ne(codes[1][i]).sum().item<int64_t>();
    EXPECT_EQ(differ, 0) << method << ": codes differ between the CPU's best kernels (" << BatchedKernelName()
                         << ") and float32 AVX-512 ones";
  }
}

// A stand-in tokenizer whose ids fit the tiny model's vocabulary (97): BOS 1, then 3 + byte % 90.
class SmallTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(1);
    for (unsigned char c : text) ids.push_back(3 + c % 90);
    return ids;
  }
  std::string Decode(const std::vector<int32_t>&) const override { return ""; }
  int32_t vocab_size() const override { return 93; }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::optional<int32_t> eos_id() const override { return 2; }
  std::string Describe() const override { return "small"; }
};

// The worker's entry point: draws the windows from the bundled c4 sample, quantizes, and
// reports what was done with the calibration's provenance.
TEST(QuantizeTest, QuantizeModelDrawsCalibrationAndReportsProvenance) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 3);
  CalibrationSpec spec;
  spec.dataset = "c4";
  spec.samples = 3;
  spec.seq_len = 32;
  spec.seed = 5;
  std::vector<std::string> stages;
  auto report = QuantizeModel(*model, SmallTokenizer(), "gptq", {{"group_size", "32"}}, spec,
                              [&](const std::string& stage, int64_t, int64_t) {
                                if (stages.empty() || stages.back() != stage) stages.push_back(stage);
                              });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(stages, (std::vector<std::string>{"calibration", "quantize"}));
  EXPECT_EQ(report->calibration, "c4 random 3x32 seed=5");
  EXPECT_EQ(report->calibration_sampling, "random-document");
  EXPECT_EQ(report->calibration_fingerprint.size(), 64u);
  EXPECT_NE(report->description.find("sha256=" + report->calibration_fingerprint), std::string::npos);
  EXPECT_NE(report->description.find("group_size=32"), std::string::npos);
  for (const char* stage : {"calibration", "quantization", "total"}) {
    EXPECT_TRUE(report->seconds.count(stage)) << stage;
  }
  EXPECT_EQ(report->max_final_damp, 0.01);
  EXPECT_EQ(report->damped_layers, 0);
  // The same spec draws the same windows: the description is reproducible.
  auto again = RandomModel(TinyConfig(Architecture::kLlama, true), 3);
  auto report2 = QuantizeModel(*again, SmallTokenizer(), "gptq", {{"group_size", "32"}}, spec);
  ASSERT_TRUE(report2.ok());
  EXPECT_EQ(report2->description, report->description);
}

TEST(QuantizeTest, CalibratedMethodsNeedCalibration) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  EXPECT_EQ(QuantizeModelWithCalibration(*model, "gptq", {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// GPTQ and GSQ/AWQ end to end on a model whose MLP width (100) no group size of 16 or 32
// divides — the seed paper's GSQ crashed here.
TEST(QuantizeTest, CalibratedMethodsHandleNonDividingGroupSizes) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  for (const std::string method : {"gptq", "gsq", "awq"}) {
    for (const Architecture arch : {Architecture::kLlama, Architecture::kPhi}) {
      auto model = RandomModel(TinyConfig(arch, arch == Architecture::kLlama), 2);
      Params params = {{"bits", "3"}, {"group_size", "16"}};
      if (method == "gptq") params["act_order"] = "true";
      std::vector<std::pair<int64_t, int64_t>> progress;
      auto report =
          QuantizeModelWithCalibration(*model, method, params, &calibration,
                                       [&](const std::string&, int64_t done, int64_t total) {
                                         progress.push_back({done, total});
                                       });
      ASSERT_TRUE(report.ok()) << method << ": " << report.status();
      EXPECT_EQ(progress.back(), (std::pair<int64_t, int64_t>{2, 2}));
      EXPECT_EQ(report->calibration_fingerprint, calibration.fingerprint);
      std::set<std::string> names;
      for (const LayerRecord& r : report->layers) {
        names.insert(r.name);
        EXPECT_EQ(r.action, "quantized") << r.name;
        if (method == "gptq") EXPECT_GE(r.stats.at("damp_final"), 0.01) << r.name;
        if (method != "gptq" && r.name.find("q_proj") != std::string::npos) {
          EXPECT_TRUE(r.stats.count("alpha")) << r.name;
        }
      }
      EXPECT_EQ(names.size(), model->Linears().size() - 1);  // all but lm_head
      for (const NamedLinear& l : model->Linears()) {
        if (l.layer < 0 || (method == "gptq")) continue;  // act_order groups are not contiguous
        EXPECT_LE(MaxLevelsPerGroup(WeightOf(l), 16), 8) << l.name;
      }
      at::Tensor logits = model->Forward(calibration.tokens.narrow(0, 0, 2), at::Tensor());
      EXPECT_TRUE(at::isfinite(logits).all().item<bool>()) << method;
    }
  }
}

// Installation::kDense: the GPTQ result left dense with fp32 scales; kPacked computes with
// the float16 scales it stores, so the error feedback, and from there the codes, differ.
// Column 0 of block 0's q/k/v is quantized before any feedback, with the group parameters
// of the original weight (both runs see the same inputs there): it is RTN's column 0, with
// fp32 scales dense and float16 scales packed.
TEST(QuantizeTest, DenseInstallationKeepsTheDequantizedWeightWithFp32Scales) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  auto packed = RandomModel(TinyConfig(Architecture::kLlama, true), 2);
  auto dense = RandomModel(TinyConfig(Architecture::kLlama, true), 2);
  std::map<std::string, at::Tensor> original;
  for (const NamedLinear& l : dense->Linears())
    original[l.name] = (*l.slot)->mutable_dense_weight()->clone();
  const Params params = {{"bits", "4"}, {"group_size", "16"}};
  ASSERT_TRUE(QuantizeModelWithCalibration(*packed, "gptq", params, &calibration).ok());
  ASSERT_TRUE(QuantizeModelWithCalibration(*dense, "gptq", params, &calibration, nullptr,
                                           Installation::kDense)
                  .ok());
  const std::vector<NamedLinear> p = packed->Linears(), d = dense->Linears();
  ASSERT_EQ(p.size(), d.size());
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].layer < 0) continue;
    ASSERT_NE((*d[i].slot)->mutable_dense_weight(), nullptr) << d[i].name;
    EXPECT_NE(dynamic_cast<QuantizedLinear*>(p[i].slot->get()), nullptr) << p[i].name;
    const at::Tensor wd = WeightOf(d[i]), wp = WeightOf(p[i]);
    EXPECT_LE(MaxLevelsPerGroup(wd, 16), 16) << d[i].name;
    const bool first_stage = p[i].layer == 0 && p[i].name.find("self_attn.o_proj") == std::string::npos &&
                             p[i].name.find("self_attn.") != std::string::npos;
    if (first_stage) {
      const at::Tensor& w = original[d[i].name];
      at::Tensor rtn32 = Dequantize(QuantizeGroups(w, {4, 16, false}));
      at::Tensor rtn16 = Dequantize(QuantizeGroups(w, {4, 16, false, at::kHalf}));
      EXPECT_TRUE(wd.select(1, 0).equal(rtn32.select(1, 0))) << d[i].name;
      EXPECT_TRUE(wp.select(1, 0).equal(rtn16.select(1, 0))) << p[i].name;
      EXPECT_FALSE(at::equal(wd, wp)) << d[i].name << ": fp32 scales expected";
    }
  }
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

// Per-layer precision: block 0 stays dense, every down projection gets 8 bits in groups of
// 32, the rest 3 bits in groups of 16 as the entry says; the block linears' bits per weight
// follow from what each layer stores.
TEST(QuantizeTest, OverridesGiveEachLayerItsOwnPrecision) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  auto report = QuantizeModelWithCalibration(
      *model, "rtn",
      {{"bits", "3"}, {"group_size", "16"},
       {"overrides", "layers.0.*:keep;*.down_proj:bits=8,group_size=32"}},
      nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const NamedLinear& l : model->Linears()) {
    if (l.layer < 0) continue;
    auto* packed = dynamic_cast<QuantizedLinear*>(l.slot->get());
    if (l.layer == 0) {
      EXPECT_EQ(packed, nullptr) << l.name;
      EXPECT_NE((*l.slot)->mutable_dense_weight(), nullptr) << l.name;
    } else if (l.name.find("down_proj") != std::string::npos) {
      ASSERT_NE(packed, nullptr) << l.name;
      EXPECT_EQ(packed->bits(), 8);
      EXPECT_EQ(packed->group_size(), 32);
    } else {
      ASSERT_NE(packed, nullptr) << l.name;
      EXPECT_EQ(packed->bits(), 3);
      EXPECT_EQ(packed->group_size(), 16);
    }
  }
  EXPECT_EQ(report->params.at("overrides"), "layers.0.*:keep;*.down_proj:bits=8,group_size=32");
  EXPECT_EQ(report->layers.size(), 14u);  // one record per block linear
  EXPECT_NE(report->description.find("overrides=layers.0.*:keep;"), std::string::npos);
}

TEST(QuantizeTest, OverrideWithAnotherMethodAndItsErrors) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  auto report = QuantizeModelWithCalibration(
      *model, "gptq", {{"bits", "4"}, {"group_size", "16"}, {"overrides", "*.o_proj:method=rtn,bits=8"}},
      &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const NamedLinear& l : model->Linears()) {
    if (l.layer < 0) continue;
    auto* packed = dynamic_cast<QuantizedLinear*>(l.slot->get());
    ASSERT_NE(packed, nullptr) << l.name;
    EXPECT_EQ(packed->bits(), l.name.find("o_proj") != std::string::npos ? 8 : 4) << l.name;
  }
  // A calibrating override under a method that draws no windows: the error names the override.
  auto bad = QuantizeModelWithCalibration(*RandomModel(TinyConfig(Architecture::kLlama, true), 1),
                                          "rtn", {{"overrides", "*.o_proj:method=spqr"}}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("override 0 (*.o_proj)"), absl::string_view::npos)
      << bad.status();
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

// `block: 1`: only block 1's linears are quantized, and exactly as GPTQ quantizes them with
// every other block kept in float (it sees the float model's inputs); the other blocks keep
// their weights bit for bit.
TEST(QuantizeTest, BlockQuantizesOnlyThatBlock) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  auto original = RandomModel(TinyConfig(Architecture::kLlama, true), 5);
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 5);
  auto report = QuantizeModelWithCalibration(
      *model, "gptq", {{"bits", "3"}, {"group_size", "16"}, {"block", "1"}}, &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  auto kept = RandomModel(TinyConfig(Architecture::kLlama, true), 5);
  std::string others;
  for (const NamedLinear& l : kept->Linears()) {
    if (l.layer >= 0 && l.layer != 1) others += (others.empty() ? "" : ",") + l.name;
  }
  ASSERT_TRUE(QuantizeModelWithCalibration(
                  *kept, "gptq", {{"bits", "3"}, {"group_size", "16"}, {"keep", others}},
                  &calibration)
                  .ok());
  const std::vector<NamedLinear> before = original->Linears(), after = model->Linears(),
                                 reference = kept->Linears();
  int quantized = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    auto* packed = dynamic_cast<QuantizedLinear*>(after[i].slot->get());
    if (after[i].layer == 1) {
      ASSERT_NE(packed, nullptr) << after[i].name;
      EXPECT_TRUE(at::equal(WeightOf(after[i]), WeightOf(reference[i]))) << after[i].name;
      ++quantized;
    } else {
      EXPECT_EQ(packed, nullptr) << after[i].name;
      EXPECT_TRUE(at::equal(WeightOf(after[i]), WeightOf(before[i]))) << after[i].name;
    }
  }
  EXPECT_EQ(quantized, 7);  // q, k, v, o, gate, up, down
  EXPECT_EQ(report->params.at("block"), "1");
  EXPECT_NE(report->description.find("block=1"), std::string::npos) << report->description;
  EXPECT_EQ(report->provenance.at("block"), "1 of 2 (the others in float)");
}

TEST(QuantizeTest, BlockWorksForEveryMethodAndNamesABadBlock) {
  CalibrationSet calibration = RandomCalibration(6, 24);
  for (const char* method : {"rtn", "awq", "spqr", "smoothquant", "fp8", "llm_int8"}) {
    auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
    auto original = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
    auto report = QuantizeModelWithCalibration(*model, method, {{"block", "0"}}, &calibration);
    ASSERT_TRUE(report.ok()) << method << ": " << report.status();
    const std::vector<NamedLinear> after = model->Linears(), before = original->Linears();
    for (size_t i = 0; i < after.size(); ++i) {
      if (after[i].layer != 1) continue;  // block 1 and lm_head: untouched
      at::Tensor* w = (*after[i].slot)->mutable_dense_weight();
      ASSERT_NE(w, nullptr) << method << " " << after[i].name;
      EXPECT_TRUE(at::equal(*w, *(*before[i].slot)->mutable_dense_weight()))
          << method << " " << after[i].name;
    }
  }
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  auto bad = QuantizeModelWithCalibration(*model, "rtn", {{"block", "2"}}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "rtn: block 2 is not a block of this model (it has 2: 0..1)");
}

}  // namespace
}  // namespace llmq
