#include "worker/host_info.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>

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

using Environment = std::map<std::string, std::string>;

// SlurmJobFromEnvironment over `env` instead of this process's environment.
absl::optional<v1::SlurmJob> SlurmJobIn(const Environment& env) {
  return SlurmJobFromEnvironment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(WorkerHostInfoTest, SlurmArrayTaskIdsComeFromTheEnvironment) {
  // As Slurm sets them for task 0 of array job 7001, itself job 7003.
  absl::optional<v1::SlurmJob> slurm = SlurmJobIn({{"SLURM_JOB_ID", "7003"},
                                                   {"SLURM_ARRAY_JOB_ID", "7001"},
                                                   {"SLURM_ARRAY_TASK_ID", "0"},
                                                   {"SLURM_JOB_NAME", "llmq-workers"}});
  ASSERT_TRUE(slurm.has_value());
  EXPECT_EQ(slurm->job_id(), 7003);
  EXPECT_EQ(slurm->array_job_id(), 7001);
  EXPECT_EQ(slurm->array_task_id(), 0);
}

TEST(WorkerHostInfoTest, SlurmJobOutsideAnArrayHasNoArrayIds) {
  absl::optional<v1::SlurmJob> slurm = SlurmJobIn({{"SLURM_JOB_ID", "55"}});
  ASSERT_TRUE(slurm.has_value());
  EXPECT_EQ(slurm->job_id(), 55);
  EXPECT_EQ(slurm->array_job_id(), 0);
  // A task id without its array job id (or a malformed one) is not an array either.
  slurm = SlurmJobIn(
      {{"SLURM_JOB_ID", "55"}, {"SLURM_ARRAY_JOB_ID", "x"}, {"SLURM_ARRAY_TASK_ID", "3"}});
  ASSERT_TRUE(slurm.has_value());
  EXPECT_EQ(slurm->array_job_id(), 0);
}

TEST(WorkerHostInfoTest, NoSlurmJobOutsideSlurmOrWithAMalformedJobId) {
  EXPECT_FALSE(SlurmJobIn({}).has_value());
  EXPECT_FALSE(SlurmJobIn({{"SLURM_JOB_ID", ""}}).has_value());
  EXPECT_FALSE(SlurmJobIn({{"SLURM_JOB_ID", "12abc"}}).has_value());
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
