#include "worker/host_info.h"

#include <stdlib.h>

#include <filesystem>

#include "common/files.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(WorkerHostInfoTest, ReadsMeminfoFieldsInBytes) {
  const TempDir temp("llmq_host_info_test");
  ASSERT_FALSE(temp.path().empty());
  const std::string path = temp.Join("meminfo");
  ASSERT_TRUE(WriteFileAtomically(path,
                                  "MemTotal:       131072 kB\n"
                                  "MemFree:         1024 kB\n"
                                  "MemAvailable:    65536 kB\n").ok());
  EXPECT_EQ(*ReadMeminfoBytes("MemTotal", path), int64_t{131072} * 1024);
  EXPECT_EQ(*ReadMeminfoBytes("MemAvailable", path), int64_t{65536} * 1024);
  EXPECT_TRUE(absl::IsNotFound(ReadMeminfoBytes("Mem", path).status()));
}

TEST(WorkerHostInfoTest, CpuDeviceReportsTheMachinesRam) {
  absl::StatusOr<DeviceInfo> info = ProbeDevice("cpu");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->devices, std::vector<std::string>{"cpu"});
  EXPECT_EQ(info->memory_bytes, *ReadMeminfoBytes("MemTotal"));
  EXPECT_GT(FreeMemoryBytes("cpu", info->memory_bytes), 0);
  EXPECT_LE(FreeMemoryBytes("cpu", info->memory_bytes), info->memory_bytes);
}

TEST(WorkerHostInfoTest, UnknownDeviceIsInvalid) {
  EXPECT_TRUE(absl::IsInvalidArgument(ProbeDevice("tpu").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ProbeDevice("cuda:x").status()));
}

}  // namespace
}  // namespace llmq
