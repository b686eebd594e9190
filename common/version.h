// llmq's version and the result version that enters every job's canonical key.
#ifndef LLMQ_COMMON_VERSION_H_
#define LLMQ_COMMON_VERSION_H_

namespace llmq {

inline constexpr char kLlmqVersion[] = "0.1.0";

// Bumped whenever a change alters any job's numbers (a method, a task protocol, the
// model runtime's arithmetic). Part of every canonical job key, so old results are not
// mistaken for new ones.
// 2: the choice tasks and gsm8k encode with the tokenizer's special tokens by default (bos),
//    gsm8k with cot runs its 8 exemplars, GPTQ quantizes with the scales it stores.
inline constexpr int kResultVersion = 2;

// The coordinator <-> worker protocol version; a worker with another major is refused.
inline constexpr int kProtocolVersion = 1;

}  // namespace llmq

#endif  // LLMQ_COMMON_VERSION_H_
