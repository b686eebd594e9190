// The CPU cores this process may run on.
#ifndef LLMQ_COMMON_CPU_H_
#define LLMQ_COMMON_CPU_H_

namespace llmq {

// The cores in this process's affinity mask (what a container or taskset allows), at
// least 1; the online cores when the mask cannot be read.
int CoresAvailable();

}  // namespace llmq

#endif  // LLMQ_COMMON_CPU_H_
