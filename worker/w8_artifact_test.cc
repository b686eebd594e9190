// The 8-bit methods and SpQR through the artifact cache, as a worker runs them: the first
// job of a quantization key quantizes, exports (llmq's own layer tensors beside the GPTQ
// format) and serves its task from a fresh `llmq-worker run-job` process on the export;
// a second job with the same key loads the export from the cache. Both see the same
// model: identical perplexity, weight and disk bytes, and the method's own metrics.
// Skipped when LLMQ_BUILD_DIR (set by ctest) is unknown.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/temp_dir.h"
#include "grid/grid.h"
#include "gtest/gtest.h"
#include "worker/pipeline.h"

namespace llmq {
namespace {

std::map<std::string, double> Metrics(const v1::JobResult& result) {
  std::map<std::string, double> m;
  for (const v1::Metric& metric : result.metrics()) m[metric.name()] = metric.value();
  return m;
}

std::string Prov(const v1::JobResult& result, const std::string& key) {
  auto it = result.provenance().find(key);
  return it == result.provenance().end() ? std::string("(none)") : it->second;
}

class W8ArtifactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* build_dir = std::getenv("LLMQ_BUILD_DIR");
    if (build_dir != nullptr) binary_ = JoinPath(build_dir, "worker/llmq-worker");
    if (binary_.empty() || !FileExists(binary_)) GTEST_SKIP() << "llmq-worker binary not found (run through ctest)";
    char cwd[PATH_MAX] = {0};
    model_ = JoinPath(::getcwd(cwd, sizeof(cwd)), "assets/models/stories260K");
    if (!IsDirectory(model_)) GTEST_SKIP() << "bundled model not found (run from the source root)";
    ASSERT_FALSE(temp_.path().empty());
  }

  // One job of `method_yaml` (a `methods:` entry) with a small perplexity task.
  absl::StatusOr<v1::JobSpec> Job(const std::string& method_yaml) const {
    return ParseSingleJob(absl::StrCat(R"(name: w8-cache
models:
  - name: stories260k
    path: )", model_, R"(
methods:
  - )", method_yaml, R"(
calibration: {dataset: c4, samples: 4, seq_len: 64, seed: 0}
tasks:
  - {name: ppl, dataset: tinystories, context: 128, limit: 4}
)"), "job.yaml");
  }

  PipelineOptions Options() const {
    PipelineOptions options;
    options.threads = 1;
    options.artifact_cache = JoinPath(temp_.path(), "cache");
    options.serving_command = {binary_, "run-job"};
    return options;
  }

  std::string binary_, model_;
  const TempDir temp_{"llmq_w8_artifact_test"};
};

// `extra`: the method's own metric that must come out the same both times.
void ExpectServedFromExportThenCache(const v1::JobSpec& job, const PipelineOptions& options,
                                     const std::string& extra) {
  auto fresh = RunJobPipeline(job, options, nullptr);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto cached = RunJobPipeline(job, options, nullptr);
  ASSERT_TRUE(cached.ok()) << cached.status();

  // The export was made and cached (not "not cached: <why>"), and a fresh process served it.
  const std::string artifact = options.artifact_cache + "/";
  EXPECT_EQ(Prov(*fresh, "quant.source"), "quantized in this job");
  EXPECT_EQ(Prov(*fresh, "quant.artifact").rfind(artifact, 0), 0u) << Prov(*fresh, "quant.artifact");
  EXPECT_EQ(Prov(*fresh, "memory.peak").rfind("serving, in a fresh process that loaded the quantized export", 0), 0u)
      << Prov(*fresh, "memory.peak");
  EXPECT_EQ(Prov(*fresh, "model_format"), "llmq");
  // The second job of the key loaded it from the cache and quantized nothing.
  EXPECT_EQ(Prov(*cached, "quant.source"), "artifact cache");
  EXPECT_EQ(Prov(*cached, "quant.artifact"), Prov(*fresh, "quant.artifact"));
  EXPECT_EQ(Prov(*cached, "memory.peak").rfind("serving: ", 0), 0u) << Prov(*cached, "memory.peak");
  EXPECT_EQ(Prov(*cached, "model_format"), "llmq");
  EXPECT_EQ(Prov(*cached, "quant.description"), Prov(*fresh, "quant.description"));

  const auto a = Metrics(*fresh), b = Metrics(*cached);
  std::printf("%s: ppl %.6f, weight %.0f bytes, %.3f bits/weight, export %.0f bytes on disk\n",
              Prov(*fresh, "quant.description").c_str(), a.count("ppl") ? a.at("ppl") : 0.0,
              a.count("weight_bytes") ? a.at("weight_bytes") : 0.0,
              a.count("bits_per_weight") ? a.at("bits_per_weight") : 0.0,
              a.count("disk_bytes") ? a.at("disk_bytes") : 0.0);
  EXPECT_TRUE(a.count("quantize_seconds"));
  EXPECT_FALSE(b.count("quantize_seconds"));
  for (const std::string& name : {std::string("ppl"), std::string("weight_bytes"), std::string("bits_per_weight"),
                                  std::string("disk_bytes"), std::string("quantize_peak_rss_bytes"), extra}) {
    ASSERT_TRUE(a.count(name) && b.count(name)) << name;
    EXPECT_EQ(a.at(name), b.at(name)) << name;
  }
}

TEST_F(W8ArtifactTest, SmoothQuantW8A8IsServedFromItsExportAndThenFromTheCache) {
  auto job = Job("{name: smoothquant, alpha: 0.5}");
  ASSERT_TRUE(job.ok()) << job.status();
  ExpectServedFromExportThenCache(*job, Options(), "block_linear_bytes");
}

TEST_F(W8ArtifactTest, LlmInt8AndSpqrKeepTheirOwnMetricsThroughTheCache) {
  // LLM.int8()'s outlier columns are counted by the serving process's layers (threshold 1
  // so that some appear); SpQR's outlier share travels with the artifact's provenance.
  auto int8 = Job("{name: llm_int8, threshold: 1}");
  ASSERT_TRUE(int8.ok()) << int8.status();
  ExpectServedFromExportThenCache(*int8, Options(), "outlier_column_fraction");
  auto spqr = Job("{name: spqr, bits: 3, group_size: 16}");
  ASSERT_TRUE(spqr.ok()) << spqr.status();
  ExpectServedFromExportThenCache(*spqr, Options(), "outlier_fraction");
}

}  // namespace
}  // namespace llmq
