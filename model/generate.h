// Text generation with a KV cache: greedy or seeded sampling, over a left-padded batch,
// stopping at EOS, at stop strings, or after max_new_tokens.
#ifndef LLMQ_MODEL_GENERATE_H_
#define LLMQ_MODEL_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

namespace llmq {

struct GenerationOptions {
  int max_new_tokens = 64;
  bool greedy = true;       // argmax; else sample
  double temperature = 1.0;
  int top_k = 0;            // 0 = no top-k filter
  uint64_t seed = 0;        // sampling is reproducible for a given seed and batch order
  bool stop_at_eos = true;
  std::vector<std::string> stop_strings;  // matched on the decoded continuation
};

struct Generation {
  std::vector<int32_t> ids;  // new tokens only (excluding the stop token / stop string's tail)
  std::string text;          // decoded continuation, cut before the first stop string
  std::string stop_reason;   // "eos", "stop_string", "length"
};

// Generates a continuation of every prompt. `tokenizer` decodes for stop strings and
// `text`; it may be null when neither is wanted. Prompts may differ in length.
std::vector<Generation> Generate(CausalLM& model, const Tokenizer* tokenizer,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const GenerationOptions& options);

}  // namespace llmq

#endif  // LLMQ_MODEL_GENERATE_H_
