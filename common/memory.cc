#include "common/memory.h"

#include <sys/resource.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace llmq {
namespace {

// A "Vm...:   1234 kB" line of /proc/self/status, in bytes; -1 when absent.
int64_t StatusKibibytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  const size_t n = std::strlen(field);
  char line[256];
  int64_t bytes = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    long long kib = 0;
    if (std::strncmp(line, field, n) == 0 && line[n] == ':' &&
        std::sscanf(line + n + 1, "%lld", &kib) == 1) {
      bytes = static_cast<int64_t>(kib) * 1024;
      break;
    }
  }
  std::fclose(f);
  return bytes;
}

}  // namespace

int64_t CurrentRssBytes() {
  const int64_t bytes = StatusKibibytes("VmRSS");
  return bytes < 0 ? 0 : bytes;
}

int64_t PeakRssBytes() {
  // Not getrusage: its ru_maxrss also keeps the peaks of exited threads and ignores
  // clear_refs, so it never goes down.
  const int64_t bytes = StatusKibibytes("VmHWM");
  if (bytes >= 0) return bytes;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux and BSDs report KiB
}

absl::Status ResetPeakRss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "we");
  if (f == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open /proc/self/clear_refs: ", std::strerror(errno)));
  }
  const bool written = std::fputs("5", f) >= 0;
  const bool closed = std::fclose(f) == 0;  // the write happens at the flush
  if (!written || !closed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write /proc/self/clear_refs: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool ReleaseFreedHeap() {
#ifdef __GLIBC__
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace llmq
