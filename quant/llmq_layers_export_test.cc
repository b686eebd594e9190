// Export and load of the layers the GPTQ format cannot hold (model/llmq_checkpoint.h):
// each method quantizes a tiny random model, ExportGptq writes it, LoadModel reads it
// back, and every tensor of every layer (codes, scales, outliers, norms, biases) and the
// logits must be identical to the quantized model's.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>
#include <tuple>

#include "common/files.h"
#include "model/fp8_linear.h"
#include "model/int8_linear.h"
#include "model/llmq_checkpoint.h"
#include "model/loader.h"
#include "model/quantized_linear.h"
#include "model/safetensors.h"
#include "model/spqr_linear.h"
#include "quant/gptq_export.h"
#include "quant/quantize.h"
#include "quant/testing_models.h"
#include "quant/w8_swap.h"

namespace llmq {
namespace {

using testing_models::RandomCalibration;
using testing_models::RandomModel;
using testing_models::TinyConfig;

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = JoinPath(tmp ? tmp : "/tmp", "llmq_llmq_export_" + name);
  EXPECT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);
  return dir;
}

// Same dtype, shape and bits (at::equal alone would let an int16 and an int32 tensor of
// the same values pass).
void ExpectSameTensor(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  EXPECT_EQ(a.scalar_type(), b.scalar_type()) << what;
  EXPECT_TRUE(a.cpu().equal(b.cpu())) << what;
}

void ExpectSameNorm(const Norm& a, const Norm& b, const std::string& what) {
  ExpectSameTensor(a.weight, b.weight, what + ".weight");
  ExpectSameTensor(a.bias, b.bias, what + ".bias");
}

// Every layer of `b` holds exactly the tensors of the same layer of `a`; returns the
// layer kinds seen ("int8", "fp8", "spqr", "gptq", "dense"), for the caller to check.
std::set<std::string> ExpectSameLayers(CausalLM& a, CausalLM& b) {
  std::set<std::string> kinds;
  ExpectSameTensor(a.embedding(), b.embedding(), "embedding");
  for (int i = 0; i < a.num_layers(); ++i) {
    ExpectSameNorm(a.block(i).attn_norm, b.block(i).attn_norm, absl::StrCat("block ", i, " attn_norm"));
    ExpectSameNorm(a.block(i).mlp_norm, b.block(i).mlp_norm, absl::StrCat("block ", i, " mlp_norm"));
  }
  ExpectSameNorm(a.final_norm(), b.final_norm(), "final norm");
  auto la = a.Linears(), lb = b.Linears();
  EXPECT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < std::min(la.size(), lb.size()); ++i) {
    const std::string& name = la[i].name;
    Linear* x = la[i].slot->get();
    Linear* y = lb[i].slot->get();
    EXPECT_EQ(name, lb[i].name);
    EXPECT_EQ(x->Describe(), y->Describe()) << name;
    EXPECT_EQ(x->WeightBytes(), y->WeightBytes()) << name;
    ExpectSameTensor(x->bias(), y->bias(), name + ".bias");
    if (auto* p = dynamic_cast<Int8Linear*>(x)) {
      auto* q = dynamic_cast<Int8Linear*>(y);
      if (q == nullptr) {
        ADD_FAILURE() << name << " loaded as " << y->Describe();
        continue;
      }
      kinds.insert("int8");
      ExpectSameTensor(p->Codes(), q->Codes(), name + " codes");
      ExpectSameTensor(p->weight_scales(), q->weight_scales(), name + " scales");
      EXPECT_EQ(p->options().weight_bits, q->options().weight_bits) << name;
      EXPECT_EQ(p->options().activation_bits, q->options().activation_bits) << name;
      EXPECT_EQ(p->options().outlier_threshold, q->options().outlier_threshold) << name;
    } else if (auto* p = dynamic_cast<Fp8Linear*>(x)) {
      auto* q = dynamic_cast<Fp8Linear*>(y);
      if (q == nullptr) {
        ADD_FAILURE() << name << " loaded as " << y->Describe();
        continue;
      }
      kinds.insert("fp8");
      ExpectSameTensor(p->codes(), q->codes(), name + " codes");
      ExpectSameTensor(p->scales(), q->scales(), name + " scales");
      EXPECT_EQ(p->options().format, q->options().format) << name;
      EXPECT_EQ(p->options().per_channel, q->options().per_channel) << name;
      EXPECT_EQ(p->options().activations, q->options().activations) << name;
    } else if (auto* p = dynamic_cast<SpqrLinear*>(x)) {
      auto* q = dynamic_cast<SpqrLinear*>(y);
      if (q == nullptr) {
        ADD_FAILURE() << name << " loaded as " << y->Describe();
        continue;
      }
      kinds.insert("spqr");
      const SpqrStorage s = p->Storage(), t = q->Storage();
      EXPECT_EQ(std::make_tuple(s.bits, s.scale_bits, s.group_size, s.out, s.in),
                std::make_tuple(t.bits, t.scale_bits, t.group_size, t.out, t.in))
          << name;
      ExpectSameTensor(s.codes, t.codes, name + " codes");
      ExpectSameTensor(s.scale_codes, t.scale_codes, name + " scale_codes");
      ExpectSameTensor(s.zero_codes, t.zero_codes, name + " zero_codes");
      ExpectSameTensor(s.scale_lo, t.scale_lo, name + " scale_lo");
      ExpectSameTensor(s.scale_step, t.scale_step, name + " scale_step");
      ExpectSameTensor(s.zero_lo, t.zero_lo, name + " zero_lo");
      ExpectSameTensor(s.zero_step, t.zero_step, name + " zero_step");
      ExpectSameTensor(s.row_ptr, t.row_ptr, name + " row_ptr");
      ExpectSameTensor(s.columns, t.columns, name + " columns");
      ExpectSameTensor(s.values, t.values, name + " values");
    } else if (auto* p = dynamic_cast<QuantizedLinear*>(x)) {
      auto* q = dynamic_cast<QuantizedLinear*>(y);
      if (q == nullptr) {
        ADD_FAILURE() << name << " loaded as " << y->Describe();
        continue;
      }
      kinds.insert("gptq");
      ExpectSameTensor(p->packed_codes(), q->packed_codes(), name + " codes");
      ExpectSameTensor(p->scales(), q->scales(), name + " scales");
      ExpectSameTensor(p->packed_zeros(), q->packed_zeros(), name + " zeros");
    } else {
      if (x->mutable_dense_weight() == nullptr || y->mutable_dense_weight() == nullptr) {
        ADD_FAILURE() << name << " loaded as " << y->Describe();
        continue;
      }
      kinds.insert("dense");
      ExpectSameTensor(*x->mutable_dense_weight(), *y->mutable_dense_weight(), name + " weight");
    }
  }
  return kinds;
}

// The logits of a few tokens, bit for bit.
void ExpectSameLogits(CausalLM& a, CausalLM& b) {
  at::Tensor tokens = at::tensor({1, 40, 47, 26, 37, 30, 12, 9, 5, 77, 60, 42}, at::kLong).view({2, 6}) %
                      a.config().vocab_size;
  at::Tensor la = a.Forward(tokens, at::Tensor()), lb = b.Forward(tokens, at::Tensor());
  EXPECT_TRUE(la.equal(lb)) << "max |diff| " << (la - lb).abs().max().item<double>();
}

struct Exported {
  std::string dir;
  GptqExportSummary summary;
  LoadedModel loaded;
};

// Exports `model` (from `source`, "" for a random one) and loads the export back.
Exported ExportAndLoad(CausalLM& model, const std::string& source, const std::string& name,
                       at::ScalarType dtype = at::kFloat) {
  Exported e;
  e.dir = TempDir(name);
  GptqExportOptions options;
  options.source = source;
  auto summary = ExportGptq(model, e.dir, options);
  EXPECT_TRUE(summary.ok()) << summary.status();
  if (!summary.ok()) return e;
  e.summary = *summary;
  auto loaded = LoadModelWithoutTokenizer(e.dir, LoadOptions{dtype, at::kCPU});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (loaded.ok()) e.loaded = std::move(loaded).value();
  return e;
}

struct MethodCase {
  std::string name, method;
  Params params;
  std::string kind;  // the layer kind every block linear must have
};

// Every method alone on a random Llama (GQA, biases none) and a random-config model
// whose widths (48, 100) fill no 16-row block or 32-bit word evenly.
TEST(LlmqLayersExportTest, EveryMethodRoundTripsBitExactly) {
  const ModelConfig config = TinyConfig(Architecture::kLlama, true);
  const CalibrationSet calibration = RandomCalibration(6, 24, config.vocab_size);
  const std::vector<MethodCase> cases = {
      {"smoothquant", "smoothquant", {}, "int8"},
      {"smoothquant_w4a6", "smoothquant", {{"w_bits", "4"}, {"a_bits", "6"}, {"alpha", "0.8"}}, "int8"},
      {"llm_int8", "llm_int8", {}, "int8"},
      {"llm_int8_outliers", "llm_int8", {{"threshold", "1.5"}}, "int8"},
      {"fp8_tensor", "fp8", {}, "fp8"},
      {"fp8_channel", "fp8", {{"granularity", "channel"}}, "fp8"},
      {"fp8_activations", "fp8", {{"granularity", "channel"}, {"activations", "true"}}, "fp8"},
      {"fp8_e5m2", "fp8", {{"format", "e5m2"}}, "fp8"},
      {"spqr", "spqr", {}, "spqr"},
      {"spqr_4b_g8", "spqr", {{"bits", "4"}, {"group_size", "8"}, {"scale_bits", "4"}, {"outlier_threshold", "0.05"}}, "spqr"},
  };
  for (const MethodCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto original = RandomModel(config, 7);
    auto model = RandomModel(config, 7);
    ASSERT_TRUE(model != nullptr && original != nullptr);
    auto report = QuantizeModelWithCalibration(*model, c.method, c.params,
                                               IsCalibratedMethod(c.method) ? &calibration : nullptr);
    ASSERT_TRUE(report.ok()) << report.status();
    Exported e = ExportAndLoad(*model, "", c.name);
    if (e.loaded.model == nullptr) continue;
    EXPECT_EQ(e.loaded.format, "llmq");
    EXPECT_TRUE(e.summary.quantized.empty());
    EXPECT_EQ(e.summary.llmq.size(), 14u);  // every block linear; lm_head stays dense
    EXPECT_EQ(e.summary.dense, (std::vector<std::string>{"lm_head"}));
    // No GPTQ layer: no quantize_config.json, and config.json says the format is llmq's.
    EXPECT_FALSE(FileExists(JoinPath(e.dir, "quantize_config.json")));
    EXPECT_NE(ReadFile(JoinPath(e.dir, "config.json"))->find("\"quant_method\": \"llmq\""), std::string::npos);
    const std::set<std::string> kinds = ExpectSameLayers(*model, *e.loaded.model);
    EXPECT_EQ(kinds, (std::set<std::string>{c.kind, "dense"}));
    EXPECT_EQ(model->WeightBytes(), e.loaded.model->WeightBytes());
    ExpectSameLogits(*model, *e.loaded.model);
    if (c.name == "llm_int8_outliers") {
      // The fp16 outlier path ran in both (so the logits above compared it), and saw the
      // same columns.
      int64_t seen_a = 0, seen_b = 0;
      const double fa = OutlierColumnFraction(*model, &seen_a), fb = OutlierColumnFraction(*e.loaded.model, &seen_b);
      EXPECT_GT(fb, 0.0);
      EXPECT_EQ(seen_a, seen_b);
      EXPECT_EQ(fa, fb);
    }
    if (c.method == "spqr") {
      int64_t outliers = 0;
      for (const NamedLinear& l : e.loaded.model->Linears()) {
        if (auto* s = dynamic_cast<SpqrLinear*>(l.slot->get())) outliers += s->outlier_count();
      }
      EXPECT_GT(outliers, 0) << "the CSR outliers must be exercised";
    }
    if (c.method == "smoothquant") {
      // The smoothing lives in the norms the export wrote: they differ from the random
      // model's (and the loaded model holds the smoothed ones, checked above).
      EXPECT_FALSE(model->block(0).attn_norm.weight.equal(original->block(0).attn_norm.weight));
      EXPECT_FALSE(model->block(1).mlp_norm.weight.equal(original->block(1).mlp_norm.weight));
    }
  }
}

// SmoothQuant on Phi (LayerNorm with a bias, which the smoothing divides too; biases on
// every linear) and LLM.int8 on Qwen2 in bfloat16 (q/k/v biases in bf16), from the HF
// fixtures: the export keeps the source's config.
TEST(LlmqLayersExportTest, PhiLayerNormAndQwen2Bfloat16RoundTrip) {
  struct Fixture {
    std::string dir, method;
    Params params;
    at::ScalarType dtype;
  };
  for (const Fixture& f : {Fixture{"tests/fixtures/hf/phi-sharded", "smoothquant", {}, at::kFloat},
                           Fixture{"tests/fixtures/hf/qwen2-bf16", "llm_int8", {{"threshold", "0.5"}}, at::kBFloat16},
                           Fixture{"tests/fixtures/hf/qwen2-bf16", "fp8", {{"granularity", "channel"}}, at::kBFloat16}}) {
    SCOPED_TRACE(f.dir + " " + f.method);
    auto loaded = LoadModelWithoutTokenizer(f.dir, LoadOptions{f.dtype, at::kCPU});
    if (!loaded.ok()) GTEST_SKIP() << "fixture missing: " << loaded.status();
    CausalLM& model = *loaded->model;
    const Norm original_norm = model.block(0).attn_norm;
    const CalibrationSet calibration = RandomCalibration(4, 16, model.config().vocab_size);
    auto report = QuantizeModelWithCalibration(model, f.method, f.params,
                                               IsCalibratedMethod(f.method) ? &calibration : nullptr);
    ASSERT_TRUE(report.ok()) << report.status();
    const std::string name = f.dir.substr(f.dir.find_last_of('/') + 1) + "_" + f.method;
    Exported e = ExportAndLoad(model, f.dir, name, f.dtype);
    if (e.loaded.model == nullptr) continue;
    EXPECT_EQ(e.loaded.model->dtype(), f.dtype);
    ExpectSameLayers(model, *e.loaded.model);
    ExpectSameLogits(model, *e.loaded.model);
    if (f.method == "smoothquant") {
      ASSERT_TRUE(original_norm.bias.defined());
      EXPECT_FALSE(model.block(0).attn_norm.bias.equal(original_norm.bias)) << "the smoothing divides the bias";
    }
  }
}

// Per-layer precision over every kind at once: block 0 kept, o_proj fp8, q/k/v
// SmoothQuant, down_proj LLM.int8, gate_proj SpQR, up_proj the entry's GPTQ 4-bit. The
// GPTQ layer is written as GPTQ (quantize_config.json, dense layers in 'dynamic'), the
// others beside it.
TEST(LlmqLayersExportTest, MixedModelFromOverridesRoundTrips) {
  const ModelConfig config = TinyConfig(Architecture::kLlama, true);
  const CalibrationSet calibration = RandomCalibration(6, 24, config.vocab_size);
  auto model = RandomModel(config, 9);
  auto report = QuantizeModelWithCalibration(
      *model, "gptq",
      {{"bits", "4"},
       {"group_size", "16"},
       {"overrides",
        "layers.0.*:keep;*.o_proj:method=fp8;self_attn.?_proj:method=smoothquant;*.down_proj:method=llm_int8;"
        "*.gate_proj:method=spqr"}},
      &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  Exported e = ExportAndLoad(*model, "", "mixed");
  ASSERT_NE(e.loaded.model, nullptr);
  EXPECT_EQ(e.loaded.format, "llmq");
  EXPECT_EQ(e.summary.quantized, (std::vector<std::string>{"model.layers.1.mlp.up_proj"}));
  EXPECT_EQ(e.summary.llmq.size(), 6u);  // block 1: q, k, v, o, gate, down
  EXPECT_EQ(e.summary.dense.size(), 8u);  // block 0 and lm_head
  EXPECT_EQ(e.summary.format.bits, 4);
  EXPECT_TRUE(FileExists(JoinPath(e.dir, "quantize_config.json")));
  const std::set<std::string> kinds = ExpectSameLayers(*model, *e.loaded.model);
  EXPECT_EQ(kinds, (std::set<std::string>{"dense", "gptq", "int8", "fp8", "spqr"}));
  ExpectSameLogits(*model, *e.loaded.model);
  EXPECT_EQ(model->WeightBytes(), e.loaded.model->WeightBytes());
  auto layers = ReadLlmqLayers(e.dir);
  ASSERT_TRUE(layers.ok() && layers->has_value()) << layers.status();
  EXPECT_EQ((*layers)->at("model.layers.1.self_attn.o_proj").kind, LlmqLayerKind::kFp8);
  EXPECT_EQ((*layers)->at("model.layers.1.mlp.down_proj").int8.outlier_threshold, 6.0);
  EXPECT_LT((*layers)->at("model.layers.1.self_attn.q_proj").int8.outlier_threshold, 0);
  EXPECT_EQ((*layers)->at("model.layers.1.mlp.gate_proj").spqr_group_size, 16);
}

// Rewrites the export's model.safetensors with `edit` applied to its tensors.
void EditTensors(const std::string& dir,
                 const std::function<void(std::vector<std::pair<std::string, at::Tensor>>*)>& edit) {
  const std::string path = JoinPath(dir, "model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  {
    auto file = SafetensorsFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    for (const auto& [name, entry] : (*file)->entries()) tensors.emplace_back(name, (*file)->Get(name)->clone());
  }
  edit(&tensors);
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
}

std::string LoadError(const std::string& dir) {
  auto loaded = LoadModelWithoutTokenizer(dir, LoadOptions{});
  return loaded.ok() ? std::string("loaded") : std::string(loaded.status().message());
}

TEST(LlmqLayersExportTest, BrokenTensorsAreNamedWithTheirFile) {
  const ModelConfig config = TinyConfig(Architecture::kLlama, true);
  const CalibrationSet calibration = RandomCalibration(6, 24, config.vocab_size);
  auto model = RandomModel(config, 3);
  // SpQR everywhere but the int8 q_proj and fp8 o_proj layers.
  auto report = QuantizeModelWithCalibration(
      *model, "spqr", {{"overrides", "*.q_proj:method=llm_int8;*.o_proj:method=fp8"}}, &calibration);
  ASSERT_TRUE(report.ok()) << report.status();
  const std::string good = TempDir("broken_source");
  ASSERT_TRUE(ExportGptq(*model, good, GptqExportOptions{}).ok());
  ASSERT_EQ(LoadError(good), "loaded");
  const std::string file = JoinPath(good, "model.safetensors");
  auto copy = [&](const std::string& name) {
    const std::string dir = TempDir(name);
    EXPECT_EQ(std::system(("cp -r '" + good + "' '" + dir + "'").c_str()), 0);
    return dir;
  };
  const std::string q = "model.layers.1.self_attn.q_proj";
  {
    const std::string dir = copy("missing");
    EditTensors(dir, [&](auto* t) {
      t->erase(std::remove_if(t->begin(), t->end(), [&](auto& p) { return p.first == q + ".llmq_int8.scales"; }),
               t->end());
    });
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, "model.safetensors")), std::string::npos) << error;
    EXPECT_NE(error.find("'" + q + ".llmq_int8.scales'"), std::string::npos) << error;
  }
  {
    const std::string dir = copy("dtype");
    EditTensors(dir, [&](auto* t) {
      for (auto& [name, tensor] : *t) {
        if (name == q + ".llmq_int8.codes") tensor = tensor.to(at::kByte);
      }
    });
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, "model.safetensors")), std::string::npos) << error;
    EXPECT_NE(error.find("'" + q + ".llmq_int8.codes' must be int8"), std::string::npos) << error;
  }
  {
    // -128 is not a code of a symmetric 8-bit weight (the kernel's sums assume |code| <= 127).
    const std::string dir = copy("range");
    EditTensors(dir, [&](auto* t) {
      for (auto& [name, tensor] : *t) {
        if (name == q + ".llmq_int8.codes") tensor[0][3] = -128;
      }
    });
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, "model.safetensors") + ": " + q + ".llmq_int8"), std::string::npos) << error;
    EXPECT_NE(error.find("codes span [-128"), std::string::npos) << error;
  }
  {
    // 0x7f is E4M3's NaN: never a quantizer's output.
    const std::string o = "model.layers.0.self_attn.o_proj";
    const std::string dir = copy("nan");
    EditTensors(dir, [&](auto* t) {
      for (auto& [name, tensor] : *t) {
        if (name == o + ".llmq_fp8.codes") tensor[2][5] = 0x7f;
      }
    });
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, "model.safetensors") + ": " + o + ".llmq_fp8"), std::string::npos) << error;
    EXPECT_NE(error.find("code 0x7f at [2, 5] is NaN"), std::string::npos) << error;
  }
  {
    // An outlier column out of range in the CSR part.
    const std::string g = "model.layers.1.mlp.gate_proj";
    const std::string dir = copy("csr");
    bool edited = false;
    EditTensors(dir, [&](auto* t) {
      for (auto& [name, tensor] : *t) {
        if (name == g + ".llmq_spqr.columns" && tensor.numel() > 0) {
          tensor[0] = 1000;
          edited = true;
        }
      }
    });
    ASSERT_TRUE(edited) << "SpQR kept no outliers";
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, "model.safetensors") + ": " + g + ".llmq_spqr"), std::string::npos) << error;
    EXPECT_NE(error.find("outlier column is outside [0, 48)"), std::string::npos) << error;
  }
  {
    const std::string dir = copy("json");
    std::string text = *ReadFile(JoinPath(dir, kLlmqLayersFile));
    const std::string from = "\"kind\": \"fp8\"";
    ASSERT_NE(text.find(from), std::string::npos) << text;
    text.replace(text.find(from), from.size(), "\"kind\": \"fp4\"");
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, kLlmqLayersFile), text).ok());
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, kLlmqLayersFile) + ": layers['model.layers.0.self_attn.o_proj'].kind: 'fp4'"),
              std::string::npos)
        << error;
  }
  {
    const std::string dir = copy("no_json");
    ASSERT_EQ(std::remove(JoinPath(dir, kLlmqLayersFile).c_str()), 0);
    const std::string error = LoadError(dir);
    EXPECT_NE(error.find(JoinPath(dir, kLlmqLayersFile) + " is missing"), std::string::npos) << error;
  }
  EXPECT_NE(file, "");
}

}  // namespace
}  // namespace llmq
