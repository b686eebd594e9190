// Hugging Face `tokenizer.json` with a BPE model: added tokens are cut out, the rest is
// normalized, pre-tokenized and merged by the BPE model; the post-processor's template adds
// special tokens. Decoding maps ids to token strings (special tokens skipped) and runs the
// decoder chain. Each step mirrors the HF tokenizers library (see the files it uses).
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_post_processor.h"
#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/tokenizer.h"

namespace llmq {
namespace {

struct HfParts {
  std::unique_ptr<HfNormalizer> normalizer;
  std::unique_ptr<HfPreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<AddedVocabulary> added;
  std::unique_ptr<HfDecoder> decoder;
  std::optional<SequenceTemplate> special_template;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::string description;
};

class HfTokenizer : public Tokenizer {
 public:
  explicit HfTokenizer(HfParts parts) : p_(std::move(parts)) {
    vocab_size_ = std::max(p_.model->max_id(), p_.added->max_id()) + 1;
  }

  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    for (AddedVocabulary::Segment& segment : p_.added->Split(text)) {
      if (segment.id >= 0) {
        ids.push_back(segment.id);
        continue;
      }
      std::vector<PreToken> pieces;
      pieces.push_back(std::move(segment.text));
      if (p_.pre_tokenizer != nullptr) p_.pre_tokenizer->PreTokenize(&pieces);
      for (const PreToken& piece : pieces) p_.model->Tokenize(piece.text, &ids);
    }
    if (add_special && p_.special_template) return ApplyTemplate(*p_.special_template, ids);
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      if (const AddedToken* added = p_.added->Find(id)) {
        if (!added->special) tokens.push_back(*p_.added->DecodedContent(id));
      } else if (const std::string* token = p_.model->IdToToken(id)) {
        tokens.push_back(*token);
      }
    }
    std::string text;
    if (p_.decoder == nullptr) {
      for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&text, i ? " " : "", tokens[i]);
      return text;
    }
    p_.decoder->DecodeChain(&tokens);
    for (const std::string& token : tokens) text += token;
    return text;
  }

  int32_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> bos_id() const override { return p_.bos_id; }
  std::optional<int32_t> eos_id() const override { return p_.eos_id; }
  std::string Describe() const override { return p_.description; }

 private:
  HfParts p_;
  int32_t vocab_size_;
};

absl::StatusOr<std::unique_ptr<BpeModel>> ParseBpeModel(const nlohmann::json& model) {
  const std::string type = JsonType(model);
  if (type != "BPE" && !(type.empty() && model.contains("merges"))) {
    return absl::UnimplementedError(
        absl::StrCat("model type \"", type, "\" is not supported (only BPE)"));
  }
  if (JsonFieldOr(model, "dropout", 0.0) > 0.0) {
    return absl::UnimplementedError("BPE dropout is not supported");
  }
  BpeModel::Vocab vocab;
  vocab.reserve(model.at("vocab").size());
  for (const auto& [token, id] : model.at("vocab").items()) vocab[token] = id.get<int32_t>();
  BpeModel::Merges merges;
  merges.reserve(model.at("merges").size());
  for (const nlohmann::json& merge : model.at("merges")) {
    if (merge.is_array()) {
      merges.emplace_back(merge.at(0).get<std::string>(), merge.at(1).get<std::string>());
      continue;
    }
    const std::string line = merge.get<std::string>();
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", merges.size(), " \"", line, "\" is not two tokens"));
    }
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  BpeOptions options;
  options.byte_fallback = JsonFieldOr(model, "byte_fallback", false);
  options.unk_token = JsonField<std::string>(model, "unk_token");
  options.fuse_unk = JsonFieldOr(model, "fuse_unk", false);
  options.ignore_merges = JsonFieldOr(model, "ignore_merges", false);
  options.continuing_subword_prefix =
      JsonFieldOr<std::string>(model, "continuing_subword_prefix", "");
  options.end_of_word_suffix = JsonFieldOr<std::string>(model, "end_of_word_suffix", "");
  return BpeModel::Create(std::move(vocab), merges, std::move(options));
}

std::vector<AddedToken> ParseAddedTokens(const nlohmann::json& json) {
  std::vector<AddedToken> tokens;
  if (json.is_null()) return tokens;
  for (const nlohmann::json& item : json) {
    AddedToken token;
    token.id = item.at("id").get<int32_t>();
    token.content = item.at("content").get<std::string>();
    token.single_word = JsonFieldOr(item, "single_word", false);
    token.lstrip = JsonFieldOr(item, "lstrip", false);
    token.rstrip = JsonFieldOr(item, "rstrip", false);
    token.special = JsonFieldOr(item, "special", false);
    token.normalized = JsonFieldOr(item, "normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// A token named in tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> ConfigToken(const nlohmann::json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const nlohmann::json& value = config.at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return JsonField<std::string>(value, "content");
  return std::nullopt;
}

std::optional<int32_t> TokenId(const HfParts& parts, const std::optional<std::string>& token) {
  if (!token) return std::nullopt;
  if (std::optional<int32_t> id = parts.added->FindId(*token)) return id;
  return parts.model->TokenToId(*token);
}

absl::StatusOr<nlohmann::json> ReadJson(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return json;
}

// `object[key]`, or null when absent.
const nlohmann::json& Member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json* null = new nlohmann::json();
  auto it = object.find(key);
  return it == object.end() ? *null : *it;
}

absl::StatusOr<HfParts> BuildParts(const nlohmann::json& json, const nlohmann::json& config) {
  HfParts parts;
  LLMQ_ASSIGN_OR_RETURN(parts.normalizer, ParseHfNormalizer(Member(json, "normalizer")));
  LLMQ_ASSIGN_OR_RETURN(parts.pre_tokenizer,
                        ParseHfPreTokenizer(Member(json, "pre_tokenizer")));
  if (!json.contains("model")) return absl::InvalidArgumentError("no \"model\"");
  LLMQ_ASSIGN_OR_RETURN(parts.model, ParseBpeModel(json.at("model")));
  std::vector<AddedToken> added = ParseAddedTokens(Member(json, "added_tokens"));
  // As in HF, an added token whose content is already in the vocabulary keeps the
  // vocabulary's id, whatever id the file gives it.
  for (AddedToken& token : added) {
    if (std::optional<int32_t> id = parts.model->TokenToId(token.content)) token.id = *id;
  }
  parts.added = std::make_unique<AddedVocabulary>(std::move(added), parts.normalizer.get());
  LLMQ_ASSIGN_OR_RETURN(parts.decoder, ParseHfDecoder(Member(json, "decoder")));
  LLMQ_ASSIGN_OR_RETURN(parts.special_template,
                        ParseHfPostProcessor(Member(json, "post_processor")));
  parts.bos_id = TokenId(parts, ConfigToken(config, "bos_token"));
  parts.eos_id = TokenId(parts, ConfigToken(config, "eos_token"));
  // Without a template in tokenizer.json, tokenizer_config.json's flags decide.
  if (!parts.special_template) {
    SequenceTemplate tmpl;
    if (JsonFieldOr(config, "add_bos_token", false) && parts.bos_id) {
      tmpl.push_back({false, {*parts.bos_id}});
    }
    tmpl.push_back({true, {}});
    if (JsonFieldOr(config, "add_eos_token", false) && parts.eos_id) {
      tmpl.push_back({false, {*parts.eos_id}});
    }
    if (tmpl.size() > 1) parts.special_template = std::move(tmpl);
  }
  const bool byte_level = parts.pre_tokenizer != nullptr && parts.pre_tokenizer->IsByteLevel();
  parts.description = absl::StrCat(
      "hf-bpe ", byte_level ? "byte-level" : "metaspace",
      JsonFieldOr(json.at("model"), "byte_fallback", false) ? " byte-fallback" : "");
  return parts;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& json_path,
                                                          const std::string& config_path) {
  LLMQ_ASSIGN_OR_RETURN(const nlohmann::json json, ReadJson(json_path));
  nlohmann::json config = nlohmann::json::object();
  if (!config_path.empty() && FileExists(config_path)) {
    LLMQ_ASSIGN_OR_RETURN(config, ReadJson(config_path));
  }
  absl::StatusOr<HfParts> parts = CatchExceptions(
      "malformed", [&]() -> absl::StatusOr<HfParts> { return BuildParts(json, config); });
  if (!parts.ok()) return Annotate(parts.status(), json_path);
  return std::unique_ptr<Tokenizer>(new HfTokenizer(*std::move(parts)));
}

}  // namespace llmq
