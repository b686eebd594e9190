// The CPU cores this process may run on, and how libtorch's OpenMP threads wait on them.
#ifndef LLMQ_COMMON_CPU_H_
#define LLMQ_COMMON_CPU_H_

namespace llmq {

// The cores in this process's affinity mask (what a container or taskset allows), at
// least 1; the online cores when the mask cannot be read.
int CoresAvailable();

// The spin limit LimitOpenMpSpinning sets: GOMP_SPINCOUNT, busy-wait iterations of an idle
// OpenMP worker before it sleeps.
inline constexpr const char* kOpenMpSpinCount = "10000";

// Call first thing in main() of a binary that computes (argv as main got it). libtorch's
// ATen ops run on OpenMP (GNU libgomp, Debian's and PyPI's builds), whose idle workers
// busy-wait 300,000 iterations after every parallel op, milliseconds on CPUs with a slow
// `pause`, while llmq's kernels (model/parallel.h) and OpenBLAS's threads need those
// cores: a Llama-1B-shaped fp32 prefill on 2 cores ran at 238-262 tokens/s, 339-346 with
// the limit; a packed 4-bit linear fed by a dtype conversion took 8.8 ms instead of 4.7.
// libgomp reads its settings once, when it loads, before main, so where neither
// OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set this sets GOMP_SPINCOUNT=kOpenMpSpinCount and
// re-executes the binary in place (same pid and arguments); where the user set either, or
// the re-execution fails, it returns and the process goes on as it is.
void LimitOpenMpSpinning(char** argv);

}  // namespace llmq

#endif  // LLMQ_COMMON_CPU_H_
