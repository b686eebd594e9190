#include "storage/codec.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(StoreCodecTest, ParamsBecomeSortedJsonWithNumbersAsNumbers) {
  google::protobuf::Map<std::string, std::string> params;
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
  v1::CalibrationSpec calibration;
  EXPECT_EQ(CalibrationToJson(calibration), "{}");
  calibration.set_dataset("c4");
  calibration.set_samples(128);
  calibration.set_seq_len(2048);
  calibration.set_seed(7);
  calibration.set_mode("random");
  EXPECT_EQ(CalibrationToJson(calibration),
            "{\"dataset\":\"c4\",\"mode\":\"random\",\"samples\":128,\"seed\":7,\"seq_len\":2048}");
  EXPECT_EQ(ParseJobState(JobStateName(v1::RUNNING)), v1::RUNNING);
  EXPECT_EQ(ParseJobState("nonsense"), v1::JOB_STATE_UNSPECIFIED);
  EXPECT_EQ(ErrorClassName(v1::ERROR_CLASS_UNSPECIFIED), "");
  EXPECT_EQ(ParseErrorClass("OUT_OF_MEMORY"), v1::OUT_OF_MEMORY);
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
