#include "worker/run_job.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/child_protocol.h"
#include "worker/progress_sinks.h"
#include "worker/result_json.h"

namespace llmq {
namespace {

TEST(WorkerRunJobTest, ReadsTextAndBinarySpecFiles) {
  const TempDir temp("llmq_run_job_test");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "job.txtpb"),
                                  "model { alias: \"tiny\" } task { name: \"ppl\" }").ok());
  absl::StatusOr<v1::JobSpec> text = ReadJobSpecFile(JoinPath(dir, "job.txtpb"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->model().alias(), "tiny");
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "job.pb"), text->SerializeAsString()).ok());
  absl::StatusOr<v1::JobSpec> binary = ReadJobSpecFile(JoinPath(dir, "job.pb"));
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->task().name(), "ppl");
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "bad.txtpb"), "model {").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ReadJobSpecFile(JoinPath(dir, "bad.txtpb")).status()));
}

TEST(WorkerRunJobTest, UnreadableSpecInDaemonModeIsAWorkerSetupFailure) {
  RunJobRequest request;
  request.spec_file = "/nonexistent/spec.pb";
  request.result_file = "/nonexistent/result.pb";
  std::ostringstream out;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunJobCommand(request, out), kChildSetupFailed);
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(absl::StrContains(stderr_text, "LLMQ-ERROR: ")) << stderr_text;
}

TEST(WorkerRunJobTest, PipelineFailureOnAnEmptySpecIsDeterministic) {
  // Holds for the placeholder pipeline (unimplemented) and the real one (no model path).
  const TempDir temp("llmq_run_job_test");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "spec.pb"), "").ok());
  RunJobRequest request;
  request.spec_file = JoinPath(dir, "spec.pb");
  request.result_file = JoinPath(dir, "result.pb");
  std::ostringstream out;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunJobCommand(request, out), kChildDeterministic);
  ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(FileExists(request.result_file));
}

TEST(WorkerResultJsonTest, MetricsByNameWithUnitsProvenanceAndSummedTimings) {
  v1::JobResult result;
  v1::Metric* ppl = result.add_metrics();
  ppl->set_name("ppl");
  ppl->set_value(7.25);
  v1::Metric* latency = result.add_metrics();
  latency->set_name("latency_decode_p50");
  latency->set_value(12.5);
  latency->set_unit("ms");
  (*result.mutable_provenance())["torch"] = "1.13.1";
  for (double seconds : {1.5, 2.0}) {
    v1::StageTiming* timing = result.add_timings();
    timing->set_stage("evaluate");
    timing->set_seconds(seconds);
  }
  const nlohmann::json json = nlohmann::json::parse(JobResultToJson(result));
  EXPECT_EQ(json["metrics"]["ppl"]["value"], 7.25);
  EXPECT_EQ(json["metrics"]["ppl"]["unit"], "");
  EXPECT_EQ(json["metrics"]["latency_decode_p50"]["unit"], "ms");
  EXPECT_EQ(json["provenance"]["torch"], "1.13.1");
  EXPECT_EQ(json["timings"]["evaluate"], 3.5);
}

TEST(WorkerProgressSinkTest, WritesDecodableRecordsAndThrottlesWithinAStage) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  PipeProgressSink sink(fds[1], absl::Hours(1));
  sink.Report("calibrate", 1, 128, "sample 1");
  sink.Report("calibrate", 2, 128, "sample 2");      // throttled
  sink.Report("calibrate", 128, 128, "last sample");  // the last step always passes
  sink.Report("quantize", 0, 16, "");                 // so does a new stage
  ::close(fds[1]);
  std::string bytes;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
  ::close(fds[0]);
  std::vector<std::string> steps;
  for (absl::string_view line : absl::StrSplit(bytes, '\n', absl::SkipEmpty())) {
    absl::optional<v1::Progress> record = DecodeProgressRecord(line);
    ASSERT_TRUE(record.has_value()) << line;
    steps.push_back(absl::StrCat(record->stage(), ":", record->step()));
  }
  EXPECT_EQ(steps, (std::vector<std::string>{"calibrate:1", "calibrate:128", "quantize:0"}));
}

}  // namespace
}  // namespace llmq
