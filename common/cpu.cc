#include "common/cpu.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

namespace llmq {

int CoresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

void LimitOpenMpSpinning(char** argv) {
  if (getenv("OMP_WAIT_POLICY") != nullptr || getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: the exec failed (no /proc). Run with libgomp's default.
}

}  // namespace llmq
