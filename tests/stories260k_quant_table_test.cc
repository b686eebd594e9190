// The stories260K quantization table (slow; CTest label `slow`): tinystories-paragraphs
// perplexity of the fp32 model, RTN and GPTQ at 4 and 3 bits x group sizes -1, 32, 16
// (16 does not divide the FFN width 172), against the independent Python references
// recorded by tests/scripts (tests/fixtures/reference/stories260k.json for fp32 and RTN,
// stories260k_gptq.json for GPTQ):
//   - fp32 within 0.1 %, RTN within 0.5 % of the reference;
//   - GPTQ within 3 % of the reference GPTQ and below RTN at the same bits and group size.
// Protocol: tinystories_val.txt split on "\n\n", stripped, empty dropped, each paragraph
// encoded with BOS by the llama2.c tokenizer, concatenated, non-overlapping 512-token
// windows (last partial dropped), ppl = exp(total NLL / predicted tokens). Calibration:
// the first 64 c4 documents, BOS each, concatenated, the first 32 windows of 512 tokens.
// Skips when the references are not recorded yet, unless LLMQ_STORIES260K_TABLE=1, which
// computes and prints the table anyway.
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

  // tinystories-paragraphs perplexity. Two windows per forward keep the attention
  // temporaries (~17 MB) below glibc's mmap threshold: bigger batches spend their time in
  // page faults.
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
  static double QuantizedPerplexity(const std::string& method, int bits, int group) {
    auto model = FreshModel();
    const Params params = {{"bits", std::to_string(bits)}, {"group_size", std::to_string(group)}};
    auto report = QuantizeModelWithCalibration(*model, method, params,
                                               method == "rtn" ? nullptr : calibration_);
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

TEST_F(Stories260kTable, QuantizedPerplexitiesMatchTheReferences) {
  auto reference = ReadJson(kReference);
  auto gptq_reference = ReadJson(kGptqReference);
  const char* force = std::getenv("LLMQ_STORIES260K_TABLE");
  const bool print_only = force != nullptr && std::string(force) == "1";
  if (!reference && !print_only) {
    GTEST_SKIP() << kReference << " is not recorded yet (branch fixtures); set "
                 << "LLMQ_STORIES260K_TABLE=1 to compute and print the table without it";
  }
  ASSERT_TRUE(eval_tokens_ != nullptr && calibration_ != nullptr) << "suite set-up failed";
  const std::vector<int32_t>& eval_tokens = *eval_tokens_;
  const CalibrationSet* calibration = calibration_;
  if (reference) {
    const auto& ref_calibration = (*reference)["calibration"];
    EXPECT_EQ(calibration->fingerprint,
              ref_calibration["calib_tokens_sha256_int32le"].get<std::string>());
    const auto& ref_eval = (*reference)["tinystories_paragraphs"];
    EXPECT_EQ(static_cast<int64_t>(eval_tokens.size()), ref_eval["total_tokens"].get<int64_t>());
  }

  const double fp32 = Perplexity(*FreshModel());
  std::map<std::pair<int, int>, double> rtn_ref, gptq_ref;
  if (reference) rtn_ref = FindPpls((*reference)["rtn"]);
  if (gptq_reference) gptq_ref = FindPpls((*gptq_reference)["configs"]);  // not "sensitivity"
  auto ref_text = [](const std::map<std::pair<int, int>, double>& m, std::pair<int, int> key) {
    auto it = m.find(key);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.4f", it == m.end() ? 0.0 : it->second);
    return it == m.end() ? std::string("-") : std::string(buf);
  };

  std::printf("\nstories260K tinystories-paragraphs ppl (%zu tokens), calibration %s\n",
              eval_tokens.size(), calibration->fingerprint.substr(0, 16).c_str());
  std::printf(
      "| config | llmq | reference |\n|---|---|---|\n| fp32 | %.4f | %s |\n", fp32,
      reference
          ? std::to_string((*reference)["tinystories_paragraphs"]["ppl"].get<double>()).c_str()
          : "-");
  if (reference) {
    const double ref = (*reference)["tinystories_paragraphs"]["ppl"].get<double>();
    EXPECT_NEAR(fp32, ref, 1e-3 * ref);
  }
  for (int bits : {4, 3}) {
    for (int group : {-1, 32, 16}) {
      const double rtn = QuantizedPerplexity("rtn", bits, group);
      const double gptq = QuantizedPerplexity("gptq", bits, group);
      std::printf("| rtn w%d g%d | %.4f | %s |\n| gptq w%d g%d | %.4f | %s |\n", bits, group, rtn,
                  ref_text(rtn_ref, {bits, group}).c_str(), bits, group, gptq,
                  ref_text(gptq_ref, {bits, group}).c_str());
      std::fflush(stdout);
      EXPECT_LT(gptq, rtn) << "bits " << bits << " group " << group;
      auto r = rtn_ref.find({bits, group});
      if (reference) {
        ASSERT_NE(r, rtn_ref.end()) << "no RTN reference for w" << bits << " g" << group;
        EXPECT_NEAR(rtn, r->second, 0.005 * r->second) << "rtn w" << bits << " g" << group;
      }
      auto g = gptq_ref.find({bits, group});
      if (gptq_reference && g != gptq_ref.end()) {
        EXPECT_NEAR(gptq, g->second, 0.03 * g->second) << "gptq w" << bits << " g" << group;
      }
    }
  }
  std::printf("(13 perplexity evaluations, %.0f s)\n", eval_seconds_);
  if (!gptq_reference) {
    std::printf("(%s not recorded yet: GPTQ compared with RTN only)\n", kGptqReference);
  }
}

// The seed paper's GSQ (= AWQ here) at 4 bits, group sizes 16 (does not divide the FFN
// width 172: the seed's GSQ crashed there) and 64: it runs and beats RTN.
TEST_F(Stories260kTable, GsqBeatsRtnAtTheSeedPapersGroupSizes) {
  const char* force = std::getenv("LLMQ_STORIES260K_TABLE");
  if (!FileExists(kReference) && !(force != nullptr && std::string(force) == "1")) {
    GTEST_SKIP() << kReference << " is not recorded yet (branch fixtures)";
  }
  ASSERT_TRUE(eval_tokens_ != nullptr && calibration_ != nullptr) << "suite set-up failed";
  for (int group : {16, 64}) {
    const double rtn = QuantizedPerplexity("rtn", 4, group);
    const double gsq = QuantizedPerplexity("gsq", 4, group);
    std::printf("| rtn w4 g%d | %.4f |\n| gsq w4 g%d | %.4f |\n", group, rtn, group, gsq);
    std::fflush(stdout);
    EXPECT_LT(gsq, rtn) << "group " << group;
  }
}

}  // namespace
}  // namespace llmq
