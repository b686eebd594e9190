#include "storage/codec.h"

#include <utility>

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(StoreCodecTest, ParamsBecomeSortedJsonWithNumbersAsNumbers) {
  std::map<std::string, std::string> params;
  params["sym"] = "false";
  params["bits"] = "4";
  params["group_size"] = "-1";
  params["damp"] = "0.01";
  params["note"] = "say \"hi\"\n";
  EXPECT_EQ(ParamsToJson(params),
            "{\"bits\":4,\"damp\":0.01,\"group_size\":-1,\"note\":\"say \\\"hi\\\"\\n\","
            "\"sym\":\"false\"}");
  EXPECT_EQ(ParamsToJson({}), "{}");
}

TEST(StoreCodecTest, CalibrationAndEnums) {
  NewJob::Calibration calibration;
  EXPECT_EQ(CalibrationToJson(calibration), "{}");
  calibration.dataset = "c4";
  calibration.samples = 128;
  calibration.seq_len = 2048;
  calibration.seed = 7;
  calibration.mode = "random";
  EXPECT_EQ(CalibrationToJson(calibration),
            "{\"dataset\":\"c4\",\"mode\":\"random\",\"samples\":128,\"seed\":7,\"seq_len\":2048}");
  EXPECT_EQ(ParseJobState(JobStateName(JobState::kRunning)), JobState::kRunning);
  EXPECT_EQ(ParseJobState("nonsense"), JobState::kUnspecified);
  EXPECT_EQ(ErrorClassName(ErrorClass::kUnspecified), "");
  EXPECT_EQ(ParseErrorClass("OUT_OF_MEMORY"), ErrorClass::kOutOfMemory);
}

// Existing databases, the schema's CHECK and analysts' queries hold these exact names.
TEST(StoreCodecTest, EnumsKeepTheirStoredNames) {
  const std::pair<JobState, const char*> states[] = {
      {JobState::kUnspecified, "JOB_STATE_UNSPECIFIED"}, {JobState::kPending, "PENDING"},
      {JobState::kLeased, "LEASED"},       {JobState::kRunning, "RUNNING"},
      {JobState::kSucceeded, "SUCCEEDED"}, {JobState::kFailed, "FAILED"},
      {JobState::kCancelled, "CANCELLED"}};
  for (const auto& [state, name] : states) {
    EXPECT_EQ(JobStateName(state), name);
    EXPECT_EQ(ParseJobState(name), state) << name;
  }
  const std::pair<ErrorClass, const char*> classes[] = {
      {ErrorClass::kUnspecified, ""},
      {ErrorClass::kTransient, "TRANSIENT"},
      {ErrorClass::kOutOfMemory, "OUT_OF_MEMORY"},
      {ErrorClass::kDeterministic, "DETERMINISTIC"},
      {ErrorClass::kTimeout, "TIMEOUT"},
      {ErrorClass::kPreempted, "PREEMPTED"},
      {ErrorClass::kWorkerLost, "WORKER_LOST"},
      {ErrorClass::kCrashed, "CRASHED"}};
  for (const auto& [error_class, name] : classes) {
    EXPECT_EQ(ErrorClassName(error_class), name);
    EXPECT_EQ(ParseErrorClass(name), error_class) << name;
  }
  EXPECT_EQ(ParseErrorClass("ERROR_CLASS_UNSPECIFIED"), ErrorClass::kUnspecified);
}

TEST(StoreCodecTest, TimingsBecomeAnObjectOfSeconds) {
  EXPECT_EQ(TimingsToJson({{"load", 0.5}, {"quantize", 2}}), "{\"load\":0.5,\"quantize\":2.0}");
  EXPECT_EQ(TimingsToJson({}), "{}");
}

TEST(StoreCodecTest, StringMapsAndListsRoundTrip) {
  const std::map<std::string, std::string> labels = {{"rack", "3"}, {"gpu", "a100"}};
  EXPECT_EQ(JsonToStringMap(StringMapToJson(labels)), labels);
  const std::vector<std::string> devices = {"cpu", "cuda:0"};
  EXPECT_EQ(JsonToStringList(StringListToJson(devices)), devices);
  EXPECT_TRUE(JsonToStringMap("not json").empty());
}

}  // namespace
}  // namespace llmq
