#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/grid.h"
#include "proto/grid_test_util.h"
#include "proto/model_identity.h"

namespace llmq {
namespace {

const PathIdentities kIdentities = {{"m/x", std::string(64, 'a')}};

TEST(GridSingleJobTest, OneValuePerAxisIsOneJob) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(
name: one
models: [m/x]
methods: [{name: gptq, bits: 3, group_size: 64}]
tasks: [{name: ppl, dataset: tinystories, context: 512}]
)", "job.yaml", kIdentities);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sweep_name(), "one");
  EXPECT_EQ(job->method().params().at("bits"), "3");
  EXPECT_TRUE(job->has_calibration());
  EXPECT_EQ(job->task().params().at("format"), "paragraphs");
  EXPECT_EQ(job->job_key().size(), 64u);
}

TEST(GridSingleJobTest, MoreThanOneJobIsAnErrorThatNamesTheAxes) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(models: [m/x]
methods:
  - name: rtn
    bits: [4, 3]
tasks: [ppl, boolq]
repeats: 2
)", "job.yaml", kIdentities);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            "job.yaml: a job file describes exactly one job; this one describes 8 (methods: "
            "rtn: bits (2 values, line 4); 2 tasks; repeats: 2); give each axis one value, or "
            "submit it as a grid with llmq-coord submit");
}

TEST(GridSingleJobTest, FiltersCanNarrowAGridToOneJob) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(models: [m/x]
methods: [{name: rtn, bits: [4, 3]}]
tasks: [ppl]
include: [{bits: 3}]
)", "job.yaml", kIdentities);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->method().params().at("bits"), "3");
}

TEST(GridSingleJobTest, ParseErrorsPassThrough) {
  EXPECT_EQ(ParseSingleJob("models: [m/x]\ntasks: [pll]\n", "job.yaml", kIdentities)
                .status()
                .message(),
            "job.yaml:2:9: tasks: unknown task \"pll\" (did you mean \"ppl\"?)");
}

TEST(GridSingleJobTest, ComputesIdentitiesOfTheFilesItNames) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(
      "models: [assets/models/stories260K]\ntasks: [ppl]\n", "job.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->model().identity(), *ComputeModelIdentity("assets/models/stories260K"));
  EXPECT_EQ(ParseSingleJob("models: [no/such/model]\ntasks: [ppl]\n", "job.yaml")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(GridSingleJobTest, FormattedJobsReadBackAsThemselves) {
  const Grid grid = testing_util::MustParse(R"(
name: "null"
models:
  - {name: "a b: c", path: /models/a, dtype: [float32, bf16]}
methods:
  - none
  - {name: gptq, bits: [4, 3], act_order: true, keep: "lm_head,model.layers.0.*"}
  - {name: llm_int8, threshold: 5.5}
calibration: {dataset: /data/calib.txt, samples: 8, mode: first}
tasks:
  - {name: ppl, dataset: tinystories, protocol: rolling, context: 512}
  - {name: mc, dataset: /data/q.jsonl, batch_size: 2}
  - {name: efficiency, prompt_lengths: "16,32"}
repeats: 2
timeout: 90s
priority: -3
resources: {device: cpu, memory: 1GiB}
)");
  const PathIdentities identities = testing_util::FakeIdentities(grid);
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, identities);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u * 4 * 3 * 2);
  for (const v1::JobSpec& job : *jobs) {
    const std::string yaml = FormatJobAsGrid(job);
    const absl::StatusOr<v1::JobSpec> back = ParseSingleJob(yaml, "job.yaml", identities);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, job))
        << yaml << "\n" << back->DebugString() << "\n" << job.DebugString();
  }
}

}  // namespace
}  // namespace llmq
