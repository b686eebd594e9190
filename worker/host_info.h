// What a worker tells the coordinator about its machine: host name, devices, memory.
// Only the CUDA probe (cuda_probe.h) touches libtorch; everything here reads /proc.
#ifndef LLMQ_WORKER_HOST_INFO_H_
#define LLMQ_WORKER_HOST_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct DeviceInfo {
  std::vector<std::string> devices;  // {"cpu"} or {"cuda:0"}
  int64_t memory_bytes = 0;          // total memory of that device
  std::string model;                 // GPU name; empty on CPU
};

// "cpu": total RAM (/proc/meminfo MemTotal). "cuda" or "cuda:N": that GPU's memory.
// kInvalidArgument for another device string, kFailedPrecondition for a GPU that is
// not there.
absl::StatusOr<DeviceInfo> ProbeDevice(absl::string_view device);

// Memory a new job may use: MemAvailable on CPU. On a GPU the device's total, since the
// daemon asks for work only while its one job slot (and so its GPU) is idle.
int64_t FreeMemoryBytes(absl::string_view device, int64_t total_bytes);

std::string HostName();

// The Slurm job this process runs in, from SLURM_JOB_ID, SLURM_ARRAY_JOB_ID and
// SLURM_ARRAY_TASK_ID as `lookup` (std::getenv in the daemon) returns them; nullopt
// outside Slurm or when SLURM_JOB_ID is not a job id. The array fields stay 0 unless
// both array variables are numbers.
absl::optional<v1::SlurmJob> SlurmJobFromEnvironment(
    absl::FunctionRef<const char*(const char*)> lookup);

// A "Name:  123 kB" field of a meminfo-format file, in bytes.
absl::StatusOr<int64_t> ReadMeminfoBytes(absl::string_view field,
                                         const std::string& path = "/proc/meminfo");

}  // namespace llmq

#endif  // LLMQ_WORKER_HOST_INFO_H_
