// The one place the daemon asks libtorch about GPUs (kept apart so that the daemon's
// other files compile without torch headers).
#ifndef LLMQ_WORKER_CUDA_PROBE_H_
#define LLMQ_WORKER_CUDA_PROBE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace llmq {

struct CudaDeviceInfo {
  std::string name;         // "NVIDIA H100 80GB HBM3"
  int64_t total_bytes = 0;
};

// Device `index` as this process sees it (CUDA_VISIBLE_DEVICES applies).
// kFailedPrecondition when libtorch has no CUDA or no such device.
absl::StatusOr<CudaDeviceInfo> ProbeCudaDevice(int index);

}  // namespace llmq

#endif  // LLMQ_WORKER_CUDA_PROBE_H_
