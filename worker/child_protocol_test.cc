#include "worker/child_protocol.h"

#include <csignal>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(WorkerChildProtocolTest, PipelineStatusCodesMapToTheDocumentedExitCodes) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("")), kChildDeterministic);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("")), kChildDeterministic);
  EXPECT_EQ(ExitCodeForStatus(absl::FailedPreconditionError("")), kChildDeterministic);
  EXPECT_EQ(ExitCodeForStatus(absl::InternalError("")), kChildDeterministic);
  EXPECT_EQ(ExitCodeForStatus(absl::ResourceExhaustedError("")), kChildOutOfMemory);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("")), kChildTransient);
  EXPECT_EQ(ExitCodeForStatus(absl::DeadlineExceededError("")), kChildTimedOut);
}

TEST(WorkerChildProtocolTest, ProgressRecordRoundTripsAndFlattensSeparators) {
  v1::Progress progress;
  progress.set_stage("quantize");
  progress.set_step(3);
  progress.set_total(16);
  progress.set_message("layer\t3\nof 16");
  const std::string line = EncodeProgressRecord(progress);
  EXPECT_EQ(line, "progress\tquantize\t3\t16\tlayer 3 of 16\n");
  absl::optional<v1::Progress> decoded =
      DecodeProgressRecord(absl::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->stage(), "quantize");
  EXPECT_EQ(decoded->step(), 3);
  EXPECT_EQ(decoded->total(), 16);
  EXPECT_EQ(decoded->message(), "layer 3 of 16");
}

TEST(WorkerChildProtocolTest, MessageMayBeMissingButNumbersMayNot) {
  EXPECT_TRUE(DecodeProgressRecord("progress\tload\t0\t1").has_value());
  EXPECT_FALSE(DecodeProgressRecord("progress\tload\tx\t1\tm").has_value());
  EXPECT_FALSE(DecodeProgressRecord("hello world").has_value());
  EXPECT_FALSE(DecodeProgressRecord("").has_value());
}

TEST(WorkerChildProtocolTest, SigkillFromOutsideIsOutOfMemory) {
  ChildExit exit;
  exit.signaled = true;
  exit.signal = SIGKILL;
  EXPECT_EQ(ClassifyChildFailure(exit, "").error_class, v1::OUT_OF_MEMORY);
}

TEST(WorkerChildProtocolTest, CrashNamesTheSignalAndKeepsTheStderrTail) {
  ChildExit exit;
  exit.signaled = true;
  exit.signal = SIGABRT;
  const ClassifiedFailure failure = ClassifyChildFailure(exit, "terminate called\n");
  EXPECT_EQ(failure.error_class, v1::CRASHED);
  EXPECT_TRUE(absl::StrContains(failure.error, "SIGABRT")) << failure.error;
  EXPECT_TRUE(absl::StrContains(failure.error, "terminate called")) << failure.error;
}

TEST(WorkerChildProtocolTest, ExitCodesClassifyAndTheErrorLineLeadsTheMessage) {
  ChildExit exit;
  exit.exit_code = kChildTransient;
  const ClassifiedFailure failure = ClassifyChildFailure(
      exit, "noise\nLLMQ-ERROR: UNAVAILABLE: dataset server down\n");
  EXPECT_EQ(failure.error_class, v1::TRANSIENT);
  EXPECT_TRUE(absl::StartsWith(failure.error,
                               "job process failed (exit 12): UNAVAILABLE: dataset server down"))
      << failure.error;
  exit.exit_code = kChildTimedOut;
  EXPECT_EQ(ClassifyChildFailure(exit, "").error_class, v1::TIMEOUT);
  exit.exit_code = kChildOutOfMemory;
  EXPECT_EQ(ClassifyChildFailure(exit, "").error_class, v1::OUT_OF_MEMORY);
  exit.exit_code = 1;  // an exit nobody defined: a bug
  EXPECT_EQ(ClassifyChildFailure(exit, "").error_class, v1::DETERMINISTIC);
  exit.exit_code = kChildExecFailed;
  EXPECT_EQ(ClassifyChildFailure(exit, "").error_class, v1::TRANSIENT);
}

}  // namespace
}  // namespace llmq
