// What a Hugging Face tokenizer.json's post_processor adds around a single sequence when
// special tokens are requested: TemplateProcessing's "single" template, Roberta/Bert's
// cls ... sep, nothing for ByteLevel.
#ifndef LLMQ_TOKENIZER_HF_POST_PROCESSOR_H_
#define LLMQ_TOKENIZER_HF_POST_PROCESSOR_H_

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace llmq {

// One element of a template: the sequence itself, or fixed ids.
struct TemplatePart {
  bool is_sequence = false;
  std::vector<int32_t> ids;
};
using SequenceTemplate = std::vector<TemplatePart>;

// nullopt when the post-processor adds nothing (null, ByteLevel, or a Sequence without a
// template). Errors name the unsupported part.
absl::StatusOr<std::optional<SequenceTemplate>> ParseHfPostProcessor(const nlohmann::json& json);

// Applies `tmpl` to `sequence`.
std::vector<int32_t> ApplyTemplate(const SequenceTemplate& tmpl,
                                   const std::vector<int32_t>& sequence);

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_HF_POST_PROCESSOR_H_
