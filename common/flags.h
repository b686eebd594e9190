// Command-line spelling shared by llmq-coord and llmq-worker.
#ifndef LLMQ_COMMON_FLAGS_H_
#define LLMQ_COMMON_FLAGS_H_

namespace llmq {

// Rewrites, in place, "--token-file=x" to "--token_file=x" (and "-token-file" likewise):
// Abseil flag names are C identifiers and cannot hold dashes. Values and everything after
// "--" are left alone.
void NormalizeFlagNames(int argc, char** argv);

}  // namespace llmq

#endif  // LLMQ_COMMON_FLAGS_H_
