#include "quant/gptq_export.h"

#include <ATen/ATen.h>
#include <dirent.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/files.h"
#include "model/loader.h"
#include "model/quantized_linear.h"
#include "model/safetensors.h"
#include "quant/rtn.h"

namespace llmq {
namespace {

constexpr char kStories[] = "assets/models/stories260K/stories260K.bin";

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = JoinPath(tmp ? tmp : "/tmp", "llmq_gptq_" + name);
  EXPECT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);
  return dir;
}

std::unique_ptr<QuantizedLinear> Layer(const at::Tensor& codes, const at::Tensor& zeros, int bits,
                                       int64_t gs) {
  at::Tensor scales = at::full(zeros.sizes(), 0.5);
  return std::move(QuantizedLinear::Create(codes, scales, zeros.to(at::kFloat), {}, {}, bits, gs,
                                           at::kFloat)
                       .value());
}

// 4 bits, in = 8, out = 2: qweight column o is one int32 holding row o's 8 codes, code k
// at bits 4k. Row 0 = [0..7] -> 0x76543210; row 1 = [1..8] -> 0x87654321 (negative).
// zeros (one group) [1, 2] stored as zero - 1 = [0, 1] along out -> 0x00000010.
TEST(GptqExportTest, HandComputedFourBitWords) {
  at::Tensor codes = (at::arange(8, at::kLong).view({1, 8}) + at::arange(2, at::kLong).view({2, 1}))
                         .to(at::kByte);
  auto layer = Layer(codes, at::tensor({1, 2}, at::kLong).view({2, 1}), 4, -1);
  auto t = ToGptqTensors(*layer, /*v1_zeros=*/true);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->qweight.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(static_cast<uint32_t>(t->qweight[0][0].item<int32_t>()), 0x76543210u);
  EXPECT_EQ(static_cast<uint32_t>(t->qweight[0][1].item<int32_t>()), 0x87654321u);
  ASSERT_EQ(t->qzeros.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(static_cast<uint32_t>(t->qzeros.item<int32_t>()), 0x00000010u);
  EXPECT_TRUE(t->g_idx.equal(at::zeros({8}, at::kInt)));
  EXPECT_EQ(t->scales.scalar_type(), at::kHalf);
  auto v2 = ToGptqTensors(*layer, /*v1_zeros=*/false);
  EXPECT_EQ(static_cast<uint32_t>(v2->qzeros.item<int32_t>()), 0x00000021u);
}

// 3 bits, in = 32: AutoGPTQ's packer as its source describes it — ten codes per word,
// the 11th and 22nd split across words — written out here independently.
TEST(GptqExportTest, ThreeBitWordsFollowAutoGptqPacker) {
  at::manual_seed(3);
  at::Tensor codes = at::randint(0, 8, {1, 32}, at::kLong).to(at::kByte);
  auto layer = Layer(codes, at::full({1, 1}, 3, at::kLong), 3, -1);
  auto t = ToGptqTensors(*layer, true);
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<uint32_t> v(32);
  for (int k = 0; k < 32; ++k) v[k] = codes[0][k].item<uint8_t>();
  uint32_t w[3] = {0, 0, 0};
  for (int j = 0; j < 10; ++j) w[0] |= v[j] << (3 * j);
  w[0] |= v[10] << 30;
  w[1] |= (v[10] >> 2) & 1;
  for (int j = 0; j < 10; ++j) w[1] |= v[11 + j] << (3 * j + 1);
  w[1] |= v[21] << 31;
  w[2] |= (v[21] >> 1) & 3;
  for (int j = 0; j < 10; ++j) w[2] |= v[22 + j] << (3 * j + 2);
  ASSERT_EQ(t->qweight.sizes(), (std::vector<int64_t>{3, 1}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(static_cast<uint32_t>(t->qweight[i][0].item<int32_t>()), w[i]);
}

// A zero point of 0 cannot be stored as "zero - 1" in one field; GPTQModel subtracts a
// whole-word constant (borrowing) and adds it back on load. Round trip must be exact.
TEST(GptqExportTest, ZeroPointZeroSurvivesV1) {
  at::manual_seed(4);
  for (int bits : {2, 3, 4, 8}) {
    const int64_t out = 21, in = 64;
    at::Tensor codes = at::randint(0, 1 << bits, {out, in}, at::kLong).to(at::kByte);
    at::Tensor zeros = at::randint(0, 1 << bits, {out, 4}, at::kLong);
    zeros.index_put_({at::indexing::Slice(0, out, 3)}, 0);
    auto layer = Layer(codes, zeros, bits, 16);
    auto t = ToGptqTensors(*layer, true);
    ASSERT_TRUE(t.ok());
    GptqFormat f;
    f.bits = bits;
    f.group_size = 16;
    auto back = FromGptqTensors(*t, out, in, f, {}, at::kFloat, at::kCPU);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE((*back)->Zeros().equal(layer->Zeros())) << bits;
    EXPECT_TRUE((*back)->Codes().equal(codes)) << bits;
    EXPECT_FALSE((*back)->g_idx().defined()) << "plain g_idx is dropped";
  }
}

void ExpectSameLayers(CausalLM& a, CausalLM& b) {
  auto la = a.Linears(), lb = b.Linears();
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) {
    auto* qa = dynamic_cast<QuantizedLinear*>(la[i].slot->get());
    auto* qb = dynamic_cast<QuantizedLinear*>(lb[i].slot->get());
    ASSERT_EQ(qa == nullptr, qb == nullptr) << la[i].name;
    if (qa == nullptr) continue;
    EXPECT_TRUE(qa->packed_codes().equal(qb->packed_codes())) << la[i].name;
    EXPECT_TRUE(qa->scales().equal(qb->scales())) << la[i].name;
    EXPECT_TRUE(qa->packed_zeros().equal(qb->packed_zeros())) << la[i].name;
    EXPECT_EQ(qa->g_idx().defined(), qb->g_idx().defined()) << la[i].name;
    if (qa->g_idx().defined()) EXPECT_TRUE(qa->g_idx().equal(qb->g_idx())) << la[i].name;
    EXPECT_EQ(qa->bias().defined(), qb->bias().defined()) << la[i].name;
    if (qa->bias().defined()) EXPECT_TRUE(qa->bias().equal(qb->bias())) << la[i].name;
  }
}

void ExpectSameLogits(CausalLM& a, CausalLM& b) {
  at::Tensor tokens = at::tensor({1, 403, 407, 261, 378, 300, 12, 99}, at::kLong).view({2, 4}) %
                      a.config().vocab_size;
  at::Tensor la = a.Forward(tokens, at::Tensor()), lb = b.Forward(tokens, at::Tensor());
  EXPECT_TRUE(la.equal(lb)) << "max |diff| " << (la - lb).abs().max().item<double>();
}

// Export -> LoadModel -> the same packed tensors and identical logits.
void RoundTrip(const std::string& source, int bits, int64_t gs, bool act_order, bool v1,
               const std::string& keep, const std::string& name) {
  SCOPED_TRACE(name);
  auto loaded = LoadModelWithoutTokenizer(source, LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  CausalLM& model = *loaded->model;
  LayerSelection selection;
  selection.include_lm_head = !keep.empty();
  selection.keep = ParseKeepPatterns(keep);
  at::manual_seed(5);
  for (NamedLinear& l : SelectLinears(model, selection)) {
    GroupQuantized q = QuantizeGroups(*(*l.slot)->mutable_dense_weight(),
                                      QuantSpec{bits, gs, false, QuantizedLinear::kScaleDtype});
    if (act_order) {
      const int64_t in = q.codes.size(1), g = gs < 0 ? in : gs;
      q.g_idx = at::div(at::arange(in, at::kLong), g, "floor")
                    .index_select(0, at::randperm(in, at::kLong)).to(at::kInt);
    }
    ASSERT_TRUE(ReplaceWithQuantized(l, q, model.dtype()).ok());
  }
  const std::string dir = TempDir(name);
  GptqExportOptions options;
  options.source = source;
  options.v1_zeros = v1;
  auto summary = ExportGptq(model, dir, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->format.desc_act, act_order);
  auto back = LoadModelWithoutTokenizer(dir, LoadOptions{});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->format, "gptq");
  ExpectSameLayers(model, *back->model);
  ExpectSameLogits(model, *back->model);
  EXPECT_EQ(back->model->WeightBytes(), model.WeightBytes());
}

TEST(GptqExportTest, Stories260KRoundTripIsBitExact) {
  RoundTrip(kStories, 4, 32, false, true, "", "stories_4b_g32");
}

TEST(GptqExportTest, RoundTripEveryWidthOddGroupsActOrderMixedPrecision) {
  RoundTrip(kStories, 3, 20, true, true, "model.layers.0.*", "stories_3b_g20_act");
  RoundTrip(kStories, 2, -1, false, false, "*.down_proj", "stories_2b_row_v2");
  RoundTrip(kStories, 8, 16, true, true, "model.layers.4.*", "stories_8b_g16_act");
  RoundTrip(kStories, 4, 20, false, true, "", "stories_4b_g20");
}

TEST(GptqExportTest, HfDirectoriesRoundTrip) {
  std::vector<std::string> dirs = {"assets/models/stories260K-hf"};
  if (DIR* d = ::opendir("tests/fixtures/hf")) {
    while (dirent* e = ::readdir(d)) {
      const std::string path = JoinPath("tests/fixtures/hf", e->d_name);
      if (e->d_name[0] != '.' && FileExists(JoinPath(path, "config.json"))) dirs.push_back(path);
    }
    ::closedir(d);
  }
  for (const std::string& dir : dirs) {
    std::string name = dir.substr(dir.find_last_of('/') + 1);
    RoundTrip(dir, 4, 16, false, true, "", name + "_4b_g16");
    RoundTrip(dir, 4, 16, true, true, "model.layers.0.*", name + "_4b_g16_act_mixed");
  }
}

TEST(GptqExportTest, ExportCopiesFilesAndWritesConfigs) {
  auto loaded = LoadModelWithoutTokenizer("assets/models/stories260K-hf", LoadOptions{});
  ASSERT_TRUE(loaded.ok());
  RtnOptions rtn;
  rtn.spec = QuantSpec{4, 32, true};
  ASSERT_TRUE(QuantizeModelRtn(*loaded->model, rtn).ok());
  const std::string dir = TempDir("files");
  GptqExportOptions options;
  options.source = "assets/models/stories260K-hf";
  auto summary = ExportGptq(*loaded->model, dir, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->format.sym);
  EXPECT_EQ(summary->dense, (std::vector<std::string>{"lm_head"}));
  // down_proj (in 172) cannot fill whole int32 words at 4 bits: 5 of them.
  EXPECT_EQ(summary->not_portable.size(), 5u);
  for (const char* f : {"model.safetensors", "config.json", "quantize_config.json",
                        "tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) {
    EXPECT_TRUE(FileExists(JoinPath(dir, f))) << f;
  }
  const std::string qc = *ReadFile(JoinPath(dir, "quantize_config.json"));
  EXPECT_NE(qc.find("\"checkpoint_format\": \"gptq\""), std::string::npos) << qc;
  EXPECT_NE(qc.find("\"sym\": true"), std::string::npos) << qc;
  const std::string config = *ReadFile(JoinPath(dir, "config.json"));
  EXPECT_NE(config.find("\"quantization_config\""), std::string::npos);
  EXPECT_NE(config.find("\"tie_word_embeddings\": true"), std::string::npos);
  auto format = ReadGptqFormat(dir);
  ASSERT_TRUE(format.ok() && format->has_value());
  EXPECT_EQ((*format)->bits, 4);
  EXPECT_EQ((*format)->group_size, 32);
}

TEST(GptqExportTest, FormatDetectionAndRefusals) {
  const std::string dir = TempDir("format");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  auto write = [&](const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, name), text).ok());
  };
  write("config.json", R"({"model_type": "llama"})");
  EXPECT_FALSE(ReadGptqFormat(dir)->has_value());
  write("config.json", R"({"quantization_config": {"quant_method": "gptq", "bits": 3, "group_size": 64,
                          "checkpoint_format": "gptq_v2", "desc_act": true}})");
  auto f = ReadGptqFormat(dir);
  ASSERT_TRUE(f.ok() && f->has_value()) << f.status();
  EXPECT_EQ((*f)->bits, 3);
  EXPECT_FALSE((*f)->v1_zeros);
  EXPECT_TRUE((*f)->desc_act);
  write("config.json", R"({"quantization_config": {"quant_method": "awq", "bits": 4}})");
  EXPECT_EQ(ReadGptqFormat(dir).status().code(), absl::StatusCode::kUnimplemented);
  write("quantize_config.json", R"({"bits": 4, "group_size": 128, "checkpoint_format": "marlin"})");
  EXPECT_EQ(ReadGptqFormat(dir).status().code(), absl::StatusCode::kUnimplemented);
  write("quantize_config.json", R"({"bits": 5, "group_size": 128})");
  EXPECT_EQ(ReadGptqFormat(dir).status().code(), absl::StatusCode::kInvalidArgument);
  write("quantize_config.json", R"({"bits": 4, "group_size": 0})");
  EXPECT_EQ(ReadGptqFormat(dir).status().code(), absl::StatusCode::kInvalidArgument);
  write("quantize_config.json", "not json");
  EXPECT_EQ(ReadGptqFormat(dir).status().code(), absl::StatusCode::kInvalidArgument);
}

// With LLMQ_GPTQ_CHECK_DIR set: exports of stories260K in several formats, each with the
// logits llmq computes (llmq_logits.safetensors: tokens, logits), for
// tests/scripts/check_gptq_export.py to compare against transformers.
TEST(GptqExportTest, WriteCheckDirectory) {
  const char* root = std::getenv("LLMQ_GPTQ_CHECK_DIR");
  if (root == nullptr) GTEST_SKIP() << "LLMQ_GPTQ_CHECK_DIR not set";
  struct Variant {
    std::string source, name;
    int bits;
    int64_t gs;
    bool sym, act_order, v1;
    const char* keep;  // "-": quantize lm_head too
  };
  const std::string stories = "assets/models/stories260K-hf";
  std::vector<Variant> variants = {
      {stories, "stories_int4_g32_asym", 4, 32, false, false, true, ""},
      {stories, "stories_int4_g16_sym", 4, 16, true, false, true, ""},
      {stories, "stories_int4_g32_sym_act_order_mixed", 4, 32, true, true, true, "model.layers.0.*"},
      {stories, "stories_int3_g20", 3, 20, false, false, true, ""},
      {stories, "stories_int2_row_v2", 2, -1, false, false, false, ""},
      {stories, "stories_int8_g64_sym_lm_head", 8, 64, true, false, true, "-"}};
  // Fixtures whose widths fill whole int32 words: the exports other tools can load too.
  for (const char* fixture : {"llama-gqa", "qwen2-bf16", "phi-sharded"}) {
    const std::string dir = JoinPath("tests/fixtures/hf", fixture);
    if (!FileExists(JoinPath(dir, "config.json"))) continue;
    variants.push_back({dir, std::string(fixture) + "_int4_g32_asym", 4, 32, false, false, true, ""});
    variants.push_back({dir, std::string(fixture) + "_int4_g32_sym_act_order", 4, 32, true, true, true, ""});
  }
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    auto loaded = LoadModelWithoutTokenizer(v.source, LoadOptions{});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    CausalLM& model = *loaded->model;
    LayerSelection selection;
    selection.include_lm_head = std::string(v.keep) == "-";
    if (!selection.include_lm_head) selection.keep = ParseKeepPatterns(v.keep);
    at::manual_seed(6);
    for (NamedLinear& l : SelectLinears(model, selection)) {
      GroupQuantized q = QuantizeGroups(*(*l.slot)->mutable_dense_weight(),
                                        QuantSpec{v.bits, v.gs, v.sym, QuantizedLinear::kScaleDtype});
      if (v.act_order) {
        const int64_t in = q.codes.size(1);
        q.g_idx = at::div(at::arange(in, at::kLong), v.gs, "floor")
                      .index_select(0, at::randperm(in, at::kLong)).to(at::kInt);
      }
      ASSERT_TRUE(ReplaceWithQuantized(l, q, model.dtype()).ok());
    }
    const std::string dir = JoinPath(root, v.name);
    GptqExportOptions options;
    options.source = v.source;
    options.v1_zeros = v.v1;
    ASSERT_TRUE(ExportGptq(model, dir, options).ok());
    at::Tensor tokens = at::tensor({1, 403, 407, 261, 378, 300, 12, 99, 1, 5, 77, 500, 42, 7, 8, 9},
                                   at::kLong).view({2, 8}) % model.config().vocab_size;
    at::Tensor logits = model.Forward(tokens, at::Tensor());  // (2, 8, vocab) float32
    ASSERT_TRUE(WriteSafetensors(JoinPath(dir, "llmq_logits.safetensors"),
                                 {{"tokens", tokens}, {"logits", logits}}, {})
                    .ok());
  }
}

// A checkpoint whose qweight does not fit its config is an error naming the layer.
TEST(GptqExportTest, MismatchedTensorsNameTheLayer) {
  GptqFormat f;
  GptqTensors t;
  t.qweight = at::zeros({3, 8}, at::kInt);
  t.qzeros = at::zeros({1, 1}, at::kInt);
  t.scales = at::ones({1, 8}, at::kHalf);
  auto layer = FromGptqTensors(t, 8, 32, f, {}, at::kFloat, at::kCPU);
  ASSERT_FALSE(layer.ok());
  EXPECT_NE(layer.status().message().find("qweight"), std::string::npos) << layer.status();
}

}  // namespace
}  // namespace llmq
