#include "worker/host_info.h"

#include <unistd.h>

#include <climits>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"
#include "common/files.h"
#include "common/status.h"
#include "worker/cuda_probe.h"

namespace llmq {
namespace {

// "cuda" -> 0, "cuda:3" -> 3; nullopt for anything else.
absl::optional<int> CudaIndex(absl::string_view device) {
  if (device == "cuda") return 0;
  int index = 0;
  if (absl::ConsumePrefix(&device, "cuda:") && absl::SimpleAtoi(device, &index) &&
      index >= 0) {
    return index;
  }
  return absl::nullopt;
}

}  // namespace

absl::StatusOr<int64_t> ReadMeminfoBytes(absl::string_view field, const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    int64_t scale = 1;
    if (absl::ConsumeSuffix(&line, "kB")) scale = 1024;
    int64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) break;
    return value * scale;
  }
  return absl::NotFoundError(absl::StrCat(path, ": no field ", field));
}

absl::StatusOr<DeviceInfo> ProbeDevice(absl::string_view device) {
  DeviceInfo info;
  if (device == "cpu") {
    info.devices = {"cpu"};
    LLMQ_ASSIGN_OR_RETURN(info.memory_bytes, ReadMeminfoBytes("MemTotal"));
    return info;
  }
  const absl::optional<int> index = CudaIndex(device);
  if (!index.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown device '", device, "' (expected cpu, cuda or cuda:N)"));
  }
  LLMQ_ASSIGN_OR_RETURN(const CudaDeviceInfo cuda, ProbeCudaDevice(*index));
  info.devices = {absl::StrCat("cuda:", *index)};
  info.memory_bytes = cuda.total_bytes;
  info.model = cuda.name;
  return info;
}

int64_t FreeMemoryBytes(absl::string_view device, int64_t total_bytes) {
  if (device != "cpu") return total_bytes;
  absl::StatusOr<int64_t> available = ReadMeminfoBytes("MemAvailable");
  return available.ok() ? *available : total_bytes;
}

absl::optional<v1::SlurmJob> SlurmJobFromEnvironment(
    absl::FunctionRef<const char*(const char*)> lookup) {
  auto number = [&](const char* name, int64_t* value) {
    const char* text = lookup(name);
    return text != nullptr && absl::SimpleAtoi(text, value) && *value >= 0;
  };
  int64_t job_id = 0;
  if (!number("SLURM_JOB_ID", &job_id) || job_id == 0) return absl::nullopt;
  v1::SlurmJob slurm;
  slurm.set_job_id(job_id);
  int64_t array_job_id = 0, array_task_id = 0;
  if (number("SLURM_ARRAY_JOB_ID", &array_job_id) && array_job_id != 0 &&
      number("SLURM_ARRAY_TASK_ID", &array_task_id) && array_task_id <= INT32_MAX) {
    slurm.set_array_job_id(array_job_id);
    slurm.set_array_task_id(static_cast<int32_t>(array_task_id));
  }
  return slurm;
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace llmq
