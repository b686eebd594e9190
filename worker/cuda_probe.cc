#include "worker/cuda_probe.h"

#include <dlfcn.h>

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "torch/cuda.h"

namespace llmq {
namespace {

// libtorch's C++ API says whether CUDA is there and how many devices it sees, but not
// how much memory a device has (that needs the CUDA headers, which Debian's CPU-only
// libtorch lacks). The driver API answers without creating a context on the GPU, so
// the daemon holds no GPU memory; it is loaded at run time, so nothing links to CUDA.
using CuInit = int (*)(unsigned int);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceTotalMem = int (*)(size_t*, int);
using CuDeviceGetName = int (*)(char*, int, int);

absl::Status AskDriver(int index, CudaDeviceInfo* info) {
  void* driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the CUDA driver (libcuda.so.1): ", ::dlerror()));
  }
  auto init = reinterpret_cast<CuInit>(::dlsym(driver, "cuInit"));
  auto get = reinterpret_cast<CuDeviceGet>(::dlsym(driver, "cuDeviceGet"));
  auto total = reinterpret_cast<CuDeviceTotalMem>(::dlsym(driver, "cuDeviceTotalMem_v2"));
  auto name = reinterpret_cast<CuDeviceGetName>(::dlsym(driver, "cuDeviceGetName"));
  if (init == nullptr || get == nullptr || total == nullptr || name == nullptr) {
    return absl::FailedPreconditionError("the CUDA driver lacks cuDeviceTotalMem_v2");
  }
  int device = 0;
  size_t bytes = 0;
  char buffer[256] = {0};
  if (int rc = init(0); rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cuInit failed: CUresult ", rc));
  }
  if (int rc = get(&device, index); rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cuDeviceGet(", index, ") failed: CUresult ", rc));
  }
  if (int rc = total(&bytes, device); rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cuDeviceTotalMem failed: CUresult ", rc));
  }
  name(buffer, sizeof(buffer) - 1, device);
  info->total_bytes = static_cast<int64_t>(bytes);
  info->name = buffer;
  return absl::OkStatus();  // the driver stays loaded: libtorch uses it too
}

}  // namespace

absl::StatusOr<CudaDeviceInfo> ProbeCudaDevice(int index) {
  LLMQ_ASSIGN_OR_RETURN(
      const size_t count,
      CatchExceptions("asking libtorch for CUDA devices", []() -> absl::StatusOr<size_t> {
        return torch::cuda::is_available() ? torch::cuda::device_count() : 0;
      }));
  if (count == 0) {
    return absl::FailedPreconditionError(
        "libtorch sees no CUDA device (a CPU-only libtorch, no driver, or "
        "CUDA_VISIBLE_DEVICES hides them)");
  }
  if (index < 0 || static_cast<size_t>(index) >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("no device cuda:", index, "; libtorch sees ", count));
  }
  CudaDeviceInfo info;
  LLMQ_RETURN_IF_ERROR(AskDriver(index, &info));
  return info;
}

}  // namespace llmq
