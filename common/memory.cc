#include "common/memory.h"

#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace llmq {
namespace {

// A "Field:   1234 kB" line of a procfs file (/proc/self/status, /proc/meminfo), in bytes;
// -1 when absent.
int64_t ProcKibibytes(const char* file, const char* field) {
  std::FILE* f = std::fopen(file, "re");
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

// One mapping of /proc/self/smaps: its header line and the fields DropLoadedCodePages needs.
struct Mapping {
  uintptr_t begin = 0, end = 0;
  char perms[5] = {0};
  std::string path;  // empty for anonymous memory; "[heap]", "[stack]", ... for the kernel's
  int64_t rss_kib = 0, anonymous_kib = 0;
};

// Every mapping of this process, in address order.
std::vector<Mapping> ReadMappings() {
  std::vector<Mapping> mappings;
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return mappings;
  char line[4096];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long begin = 0, end = 0;
    char perms[5] = {0};
    int path_at = 0;
    // "7f1c2a000000-7f1c2a021000 r-xp 00000000 08:01 1234   /usr/lib/libfoo.so"
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &begin, &end, perms, &path_at) == 3 && path_at > 0) {
      Mapping m;
      m.begin = begin;
      m.end = end;
      std::memcpy(m.perms, perms, sizeof(perms));
      m.path = line + path_at;
      while (!m.path.empty() && (m.path.back() == '\n' || m.path.back() == ' ')) m.path.pop_back();
      mappings.push_back(std::move(m));
      continue;
    }
    long long kib = 0;
    if (mappings.empty()) continue;
    if (std::sscanf(line, "Rss: %lld", &kib) == 1) mappings.back().rss_kib = kib;
    if (std::sscanf(line, "Anonymous: %lld", &kib) == 1) mappings.back().anonymous_kib = kib;
  }
  std::fclose(f);
  return mappings;
}

}  // namespace

int64_t CurrentRssBytes() {
  const int64_t bytes = ProcKibibytes("/proc/self/status", "VmRSS");
  return bytes < 0 ? 0 : bytes;
}

int64_t AvailableMemoryBytes() { return ProcKibibytes("/proc/meminfo", "MemAvailable"); }

int64_t PeakRssBytes() {
  // Not getrusage: its ru_maxrss also keeps the peaks of exited threads and ignores
  // clear_refs, so it never goes down.
  const int64_t bytes = ProcKibibytes("/proc/self/status", "VmHWM");
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

int64_t DropLoadedCodePages() {
  const std::vector<Mapping> mappings = ReadMappings();
  std::set<std::string> code_files;
  for (const Mapping& m : mappings) {
    if (m.perms[2] == 'x' && !m.path.empty() && m.path[0] == '/') code_files.insert(m.path);
  }
  int64_t dropped_kib = 0;
  for (const Mapping& m : mappings) {
    // Writable or shared mappings, and read-only ones with a written (copy-on-write) page
    // such as relocated data, hold bytes the file does not: never dropped.
    if (m.perms[1] != '-' || m.perms[3] != 'p' || m.anonymous_kib != 0 || m.rss_kib == 0) continue;
    if (!code_files.count(m.path)) continue;
    if (::madvise(reinterpret_cast<void*>(m.begin), m.end - m.begin, MADV_DONTNEED) == 0) {
      dropped_kib += m.rss_kib;
    }
  }
  return dropped_kib * 1024;
}

bool ReleaseFreedHeap() {
#ifdef __GLIBC__
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace llmq
