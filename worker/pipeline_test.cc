// The job pipeline with an artifact cache: the first job of a quantization key quantizes
// and exports, a later job with the same key (here: the same job, run again) loads the
// export instead, and both see the same model: identical perplexity, weight and disk bytes.
#include "common/temp_dir.h"
#include "worker/pipeline.h"

#include <unistd.h>

#include <climits>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "grid/grid.h"

namespace llmq {
namespace {

std::map<std::string, double> Metrics(const v1::JobResult& result) {
  std::map<std::string, double> m;
  for (const v1::Metric& metric : result.metrics()) m[metric.name()] = metric.value();
  return m;
}

TEST(WorkerPipelineTest, SecondJobOfAQuantizationKeyLoadsTheCachedExport) {
  char cwd[PATH_MAX] = {0};
  const std::string model = JoinPath(::getcwd(cwd, sizeof(cwd)), "assets/models/stories260K");
  if (!IsDirectory(model)) GTEST_SKIP() << "bundled model not found (run from the source root)";
  const TempDir temp("llmq_pipeline_test");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  auto job = [&](const std::string& task) {
    return ParseSingleJob(absl::StrCat(R"(name: cache
models:
  - name: stories260k
    path: )", model, R"(
methods:
  - name: rtn
    bits: 4
    group_size: 32
tasks:
  - )", task, "\n"), "job.yaml");
  };
  auto first = job("{name: ppl, dataset: tinystories, context: 128, limit: 4}");
  auto second = job("{name: boolq, limit: 2}");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(first->quant_key(), second->quant_key());
  ASSERT_NE(first->job_key(), second->job_key());  // another task, the same quantized model

  PipelineOptions options;
  options.threads = 1;
  options.artifact_cache = JoinPath(dir, "cache");
  auto fresh = RunJobPipeline(*first, options, nullptr);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto other_task = RunJobPipeline(*second, options, nullptr);
  ASSERT_TRUE(other_task.ok()) << other_task.status();
  EXPECT_EQ(other_task->provenance().at("quant.source"), "artifact cache");
  auto cached = RunJobPipeline(*first, options, nullptr);
  ASSERT_TRUE(cached.ok()) << cached.status();

  EXPECT_EQ(fresh->provenance().at("quant.source"), "quantized in this job");
  EXPECT_EQ(cached->provenance().at("quant.source"), "artifact cache");
  EXPECT_EQ(cached->provenance().at("quant.artifact"), fresh->provenance().at("quant.artifact"));
  // The original's tokenizer (llama2.c tok512.bin), not the export's SentencePiece copy.
  EXPECT_EQ(cached->provenance().at("tokenizer"), fresh->provenance().at("tokenizer"));
  // The packed kernels the job ran: a float32 model's are float32 ones on every CPU, never
  // the bfloat16 units (which this CPU may have: amx_bf16, avx512_bf16).
  ASSERT_TRUE(cached->provenance().count("kernels.packed"));
  EXPECT_THAT(cached->provenance().at("kernels.packed"), testing::StartsWith("1 row: "));
  EXPECT_THAT(cached->provenance().at("kernels.packed"), testing::Not(testing::HasSubstr("bf16")));
  const auto a = Metrics(*fresh), b = Metrics(*cached);
  EXPECT_TRUE(a.count("quantize_seconds"));
  EXPECT_FALSE(b.count("quantize_seconds"));
  // Without a serving command the quantizing job serves in its own process, and says so;
  // the quantization's peak travels with the export.
  EXPECT_EQ(fresh->provenance().at("memory.peak").rfind("serving, in the process that quantized it", 0), 0u)
      << fresh->provenance().at("memory.peak");
  EXPECT_EQ(cached->provenance().at("memory.peak").rfind("serving: ", 0), 0u);
  ASSERT_TRUE(a.count("quantize_peak_rss_bytes") && b.count("quantize_peak_rss_bytes"));
  EXPECT_EQ(a.at("quantize_peak_rss_bytes"), b.at("quantize_peak_rss_bytes"));
  EXPECT_GT(a.at("quantize_peak_rss_bytes"), 0);
  // The export round trip is exact: the same perplexity to the last bit.
  EXPECT_EQ(a.at("ppl"), b.at("ppl"));
  for (const char* name : {"weight_bytes", "bits_per_weight", "disk_bytes"}) {
    ASSERT_TRUE(a.count(name) && b.count(name)) << name;
    EXPECT_EQ(a.at(name), b.at(name)) << name;
  }
  EXPECT_LT(a.at("disk_bytes"), 400000);  // the 1 MB fp32 checkpoint, packed: ~0.3 MB
}

}  // namespace
}  // namespace llmq
