#include "gtest/gtest.h"
#include "proto/grid.h"
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

}  // namespace
}  // namespace llmq
