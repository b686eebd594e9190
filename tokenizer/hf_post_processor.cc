#include "tokenizer/hf_post_processor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace llmq {
namespace {

absl::StatusOr<SequenceTemplate> ParseTemplateProcessing(const nlohmann::json& json) {
  SequenceTemplate tmpl;
  const nlohmann::json& special_tokens = json.at("special_tokens");
  for (const nlohmann::json& item : json.at("single")) {
    if (item.contains("Sequence")) {
      tmpl.push_back({true, {}});
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    if (!special_tokens.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("post_processor template names \"", name, "\", not in special_tokens"));
    }
    tmpl.push_back({false, special_tokens.at(name).at("ids").get<std::vector<int32_t>>()});
  }
  return tmpl;
}

}  // namespace

absl::StatusOr<std::optional<SequenceTemplate>> ParseHfPostProcessor(const nlohmann::json& json) {
  if (json.is_null()) return std::optional<SequenceTemplate>();
  const std::string type = JsonType(json);
  if (type == "ByteLevel") return std::optional<SequenceTemplate>();
  if (type == "TemplateProcessing") {
    absl::StatusOr<SequenceTemplate> tmpl = ParseTemplateProcessing(json);
    if (!tmpl.ok()) return tmpl.status();
    return std::optional<SequenceTemplate>(*std::move(tmpl));
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    const int32_t cls = json.at("cls").at(1).get<int32_t>();
    const int32_t sep = json.at("sep").at(1).get<int32_t>();
    return std::optional<SequenceTemplate>(
        SequenceTemplate{{false, {cls}}, {true, {}}, {false, {sep}}});
  }
  if (type == "Sequence") {
    std::optional<SequenceTemplate> found;
    for (const nlohmann::json& part : json.at("processors")) {
      absl::StatusOr<std::optional<SequenceTemplate>> parsed = ParseHfPostProcessor(part);
      if (!parsed.ok()) return parsed.status();
      if (parsed->has_value()) {
        if (found) return absl::UnimplementedError("post_processor with two templates");
        found = std::move(*parsed);
      }
    }
    return found;
  }
  return absl::UnimplementedError(
      absl::StrCat("post_processor type \"", type, "\" is not supported"));
}

std::vector<int32_t> ApplyTemplate(const SequenceTemplate& tmpl,
                                   const std::vector<int32_t>& sequence) {
  std::vector<int32_t> out;
  out.reserve(sequence.size() + tmpl.size());
  for (const TemplatePart& part : tmpl) {
    const std::vector<int32_t>& ids = part.is_sequence ? sequence : part.ids;
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

}  // namespace llmq
