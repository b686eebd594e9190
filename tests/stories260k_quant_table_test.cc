// The stories260K quantization table (CTest label `slow`): tinystories-paragraphs
// perplexity of RTN and GPTQ against the independent Python references recorded by
// tests/scripts (tests/fixtures/reference/stories260k.json for fp32 and RTN,
// stories260k_gptq.json for GPTQ):
//   - RTN within 0.5 % of the reference;
//   - GPTQ within 3 % of the reference GPTQ and below RTN at the same bits and group size;
//   - GSQ (= AWQ) below RTN at the seed paper's group sizes.
//   - GPTQ with the reference's fp32 scales (Installation::kDense) within 0.5 % of it (as RTN).
// Each evaluation is the whole stream (751 windows, ~30 s on two cores), so by default the
// suite runs the configurations that matter most: 4 bits with groups of 32 and 3 bits with
// groups of 16 (16 does not divide the FFN width 172; fp32 scales too), GSQ at g16. LLMQ_STORIES260K_TABLE=full
// runs the whole table: fp32, RTN and GPTQ at 4 and 3 bits x groups -1, 32, 16, GSQ at g16
// and g64 (about 15 minutes). The fp32 perplexity is checked by eval/'s slow test.
// Protocol: tinystories_val.txt split on "\n\n", stripped, empty dropped, each paragraph
// encoded with BOS by the llama2.c tokenizer, concatenated, non-overlapping 512-token
// windows (last partial dropped), ppl = exp(total NLL / predicted tokens). Calibration:
// the first 64 c4 documents, BOS each, concatenated, the first 32 windows of 512 tokens.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/corpus.h"
#include "common/files.h"
#include "eval/perplexity.h"
#include "model/loader.h"
#include "model/runtime.h"
#include "quant/calibration.h"
#include "quant/quantize.h"

namespace llmq {
namespace {

constexpr char kModel[] = "assets/models/stories260K/stories260K.bin";
constexpr char kReference[] = "tests/fixtures/reference/stories260k.json";
constexpr char kGptqReference[] = "tests/fixtures/reference/stories260k_gptq.json";

std::optional<nlohmann::json> ReadJson(const std::string& path) {
  if (!FileExists(path)) return std::nullopt;
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  return nlohmann::json::parse(*text);
}

// Every object in `j` (recursively) with bits, group_size and ppl, keyed by (bits, group),
// preferring plain entries (no act_order / sym) when several match.
std::map<std::pair<int, int>, double> FindPpls(const nlohmann::json& j) {
  std::map<std::pair<int, int>, double> found;
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& node) {
    if (node.is_object()) {
      if (node.contains("bits") && node.contains("group_size") && node.contains("ppl") &&
          !node.value("act_order", false) && !node.value("sym", false)) {
        found[{node["bits"].get<int>(), node["group_size"].get<int>()}] = node["ppl"].get<double>();
      }
      for (const auto& item : node.items()) visit(item.value());
    } else if (node.is_array()) {
      for (const auto& item : node) visit(item);
    }
  };
  visit(j);
  return found;
}

class Stories260kTable : public ::testing::Test {
 protected:
  // The evaluation stream and the calibration windows, built once for the suite.
  static void SetUpTestSuite() {
    auto loaded = LoadModel(kModel, LoadOptions{});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    FitBlasThreadsToModel(loaded->model->config().hidden_size, ConfigureCpuRuntime(0));
    const Tokenizer& tokenizer = *loaded->tokenizer;
    auto paragraphs = LoadCorpus({"tinystories", "paragraphs", "text"});
    ASSERT_TRUE(paragraphs.ok()) << paragraphs.status();
    eval_tokens_ = new std::vector<int32_t>(EncodeDocuments(tokenizer, *paragraphs, true));
    auto c4 = LoadCorpus({"c4", "", "text"});
    ASSERT_TRUE(c4.ok()) << c4.status();
    c4->resize(64);
    CalibrationSpec spec;
    spec.mode = "first";
    spec.samples = 32;
    spec.seq_len = 512;
    auto calibration = DrawCalibration(*c4, tokenizer, spec);
    ASSERT_TRUE(calibration.ok()) << calibration.status();
    calibration_ = new CalibrationSet(std::move(calibration).value());
  }

  static std::unique_ptr<CausalLM> FreshModel() {
    auto loaded = LoadModelWithoutTokenizer(kModel, LoadOptions{});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return std::move(loaded->model);
  }

  // tinystories-paragraphs perplexity, two windows per forward (small temporaries: the
  // model's GEMMs are too small for bigger batches to pay).
  static double Perplexity(CausalLM& model) {
    PerplexityOptions options;
    options.context = 512;
    options.batch_size = 2;
    const auto start = std::chrono::steady_clock::now();
    auto r = ComputePerplexity(model, *eval_tokens_, options);
    eval_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->ppl : 0.0;
  }

  // A fresh model quantized by `method` at (bits, group), and its perplexity.
  static double QuantizedPerplexity(const std::string& method, int bits, int group,
                                    Installation installation = Installation::kPacked) {
    auto model = FreshModel();
    const Params params = {{"bits", std::to_string(bits)}, {"group_size", std::to_string(group)}};
    auto report = QuantizeModelWithCalibration(
        *model, method, params, method == "rtn" ? nullptr : calibration_, nullptr, installation);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? Perplexity(*model) : 0.0;
  }

  static std::vector<int32_t>* eval_tokens_;
  static CalibrationSet* calibration_;
  static double eval_seconds_;
};

std::vector<int32_t>* Stories260kTable::eval_tokens_ = nullptr;
CalibrationSet* Stories260kTable::calibration_ = nullptr;
double Stories260kTable::eval_seconds_ = 0;

bool FullTable() {
  const char* mode = std::getenv("LLMQ_STORIES260K_TABLE");
  return mode != nullptr && std::string(mode) == "full";
}

TEST_F(Stories260kTable, QuantizedPerplexitiesMatchTheReferences) {
  auto reference = ReadJson(kReference);
  auto gptq_reference = ReadJson(kGptqReference);
  ASSERT_TRUE(reference.has_value()) << kReference;
  ASSERT_TRUE(gptq_reference.has_value()) << kGptqReference;
  ASSERT_TRUE(eval_tokens_ != nullptr && calibration_ != nullptr) << "suite set-up failed";
  EXPECT_EQ(calibration_->fingerprint,
            (*reference)["calibration"]["calib_tokens_sha256_int32le"].get<std::string>());
  EXPECT_EQ(static_cast<int64_t>(eval_tokens_->size()),
            (*reference)["tinystories_paragraphs"]["total_tokens"].get<int64_t>());
  const auto rtn_ref = FindPpls((*reference)["rtn"]);
  const auto gptq_ref = FindPpls((*gptq_reference)["configs"]);  // not "sensitivity"

  std::printf("\nstories260K tinystories-paragraphs ppl (%zu tokens), calibration %s\n",
              eval_tokens_->size(), calibration_->fingerprint.substr(0, 16).c_str());
  std::printf("| config | llmq | reference | rel. diff |\n|---|---|---|---|\n");
  if (FullTable()) {
    const double ref = (*reference)["tinystories_paragraphs"]["ppl"].get<double>();
    const double fp32 = Perplexity(*FreshModel());
    std::printf("| fp32 | %.4f | %.4f | %+.2f%% |\n", fp32, ref, 100 * (fp32 / ref - 1));
    EXPECT_NEAR(fp32, ref, 1e-3 * ref);
  }
  std::vector<std::pair<int, int>> configs = {{4, 32}, {3, 16}};
  if (FullTable()) configs = {{4, -1}, {4, 32}, {4, 16}, {3, -1}, {3, 32}, {3, 16}};
  for (const auto& [bits, group] : configs) {
    const auto r = rtn_ref.find({bits, group});
    const auto g = gptq_ref.find({bits, group});
    ASSERT_NE(r, rtn_ref.end()) << "no RTN reference for w" << bits << " g" << group;
    ASSERT_NE(g, gptq_ref.end()) << "no GPTQ reference for w" << bits << " g" << group;
    const double rtn = QuantizedPerplexity("rtn", bits, group);
    const double gptq = QuantizedPerplexity("gptq", bits, group);
    std::printf("| rtn w%d g%d | %.4f | %.4f | %+.2f%% |\n", bits, group, rtn, r->second,
                100 * (rtn / r->second - 1));
    std::printf("| gptq w%d g%d | %.4f | %.4f | %+.2f%% |\n", bits, group, gptq, g->second,
                100 * (gptq / g->second - 1));
    std::fflush(stdout);
    EXPECT_NEAR(rtn, r->second, 0.005 * r->second) << "rtn w" << bits << " g" << group;
    EXPECT_NEAR(gptq, g->second, 0.03 * g->second) << "gptq w" << bits << " g" << group;
    EXPECT_LT(gptq, rtn) << "bits " << bits << " group " << group;
    // The packed layers hold fp16 scales, as GPTQ checkpoints do, and GPTQ quantizes with
    // them; the reference keeps fp32 scales. That small change of grid flips rounding
    // decisions and so the later layers' calibration inputs, which moves the ppl by up to
    // 1.8 % (w3 g32: 8.1927 against 8.0456). With the reference's fp32 scales llmq's GPTQ
    // gives its number.
    if (bits == 3 || FullTable()) {
      const double dense = QuantizedPerplexity("gptq", bits, group, Installation::kDense);
      std::printf("| gptq w%d g%d fp32 scales | %.5f | %.5f | %+.4f%% |\n", bits, group, dense,
                  g->second, 100 * (dense / g->second - 1));
      // The reference itself moved 4-bit g-1 by 0.09 % with another thread count.
      EXPECT_NEAR(dense, g->second, 5e-3 * g->second) << "gptq fp32 scales w" << bits << " g" << group;
    }
  }
  std::printf("(%.0f s of perplexity evaluation)\n", eval_seconds_);
}

// The seed paper's GSQ (= AWQ here) at 4 bits with groups of 16 (does not divide the FFN
// width 172: the seed's GSQ crashed there), and in the full table 64: it runs and beats RTN.
TEST_F(Stories260kTable, GsqBeatsRtnAtTheSeedPapersGroupSizes) {
  ASSERT_TRUE(eval_tokens_ != nullptr && calibration_ != nullptr) << "suite set-up failed";
  std::vector<int> groups = {16};
  if (FullTable()) groups.push_back(64);
  for (int group : groups) {
    const double rtn = QuantizedPerplexity("rtn", 4, group);
    const double gsq = QuantizedPerplexity("gsq", 4, group);
    std::printf("| rtn w4 g%d | %.4f |\n| gsq w4 g%d | %.4f |\n", group, rtn, group, gsq);
    std::fflush(stdout);
    EXPECT_LT(gsq, rtn) << "group " << group;
  }
}

}  // namespace
}  // namespace llmq
