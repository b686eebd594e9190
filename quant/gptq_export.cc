#include "quant/gptq_export.h"

#include <ATen/ATen.h>
#include <dirent.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "common/version.h"
#include "model/llmq_checkpoint.h"
#include "model/quantized_linear.h"
#include "model/safetensors.h"

namespace llmq {
namespace {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

std::string DtypeName(at::ScalarType t) {
  return t == at::kBFloat16 ? "bfloat16" : t == at::kHalf ? "float16" : "float32";
}

// config.json for a model with no source config (a llama2.c checkpoint: Llama).
absl::StatusOr<nlohmann::json> ConfigFromModel(const ModelConfig& c) {
  if (c.arch != Architecture::kLlama) {
    return absl::FailedPreconditionError(
        "no source config.json to extend, and only Llama configs can be written from scratch");
  }
  nlohmann::json j = {{"architectures", {"LlamaForCausalLM"}},
                      {"model_type", "llama"},
                      {"hidden_size", c.hidden_size},
                      {"intermediate_size", c.intermediate_size},
                      {"num_hidden_layers", c.num_layers},
                      {"num_attention_heads", c.num_heads},
                      {"num_key_value_heads", c.num_kv_heads},
                      {"head_dim", c.head_dim},
                      {"vocab_size", c.vocab_size},
                      {"max_position_embeddings", c.max_position_embeddings},
                      {"rms_norm_eps", c.norm_eps},
                      {"rope_theta", c.rope_theta},
                      {"hidden_act", c.hidden_act},
                      {"attention_bias", c.attention_bias},
                      {"mlp_bias", c.mlp_bias},
                      {"tie_word_embeddings", c.tie_word_embeddings}};
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) j["eos_token_id"] = *c.eos_token_id;
  return j;
}

std::string SourceDir(const std::string& source) {
  if (source.empty() || IsDirectory(source)) return source;
  const size_t slash = source.find_last_of('/');
  return slash == std::string::npos ? "." : source.substr(0, slash);
}

// (source file name, name in the export) pairs of tokenizer and generation files.
std::vector<std::pair<std::string, std::string>> FilesToCopy(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                           "special_tokens_map.json", "added_tokens.json", "vocab.json",
                           "merges.txt", "generation_config.json"}) {
    if (FileExists(JoinPath(dir, name))) files.emplace_back(name, name);
  }
  if (!FileExists(JoinPath(dir, "tokenizer.model"))) {  // llama2.c: tok512.model is sentencepiece
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (absl::StartsWith(name, "tok") && absl::EndsWith(name, ".model")) {
          files.emplace_back(name, "tokenizer.model");
          break;
        }
      }
      ::closedir(d);
    }
  }
  return files;
}

void AddNorm(const Norm& n, const std::string& prefix, NamedTensors* out) {
  out->emplace_back(prefix + ".weight", n.weight);
  if (n.bias.defined()) out->emplace_back(prefix + ".bias", n.bias);
}

// quantize_config.json of the GPTQ layers (summary->format), noting in
// summary->not_portable what other tools will refuse.
nlohmann::json GptqQuantizeConfig(GptqExportSummary* summary, bool lm_head_quantized, bool v1_zeros) {
  GptqFormat& f = summary->format;
  const std::vector<int64_t> kernel_group_sizes = {-1, 16, 32, 64, 128, 256, 512, 1024};
  if (std::find(kernel_group_sizes.begin(), kernel_group_sizes.end(), f.group_size) ==
      kernel_group_sizes.end()) {
    summary->not_portable.push_back(absl::StrCat(
        "group_size ", f.group_size, ": GPTQModel's kernels take -1 or powers of two 16..1024"));
  }
  if (lm_head_quantized) {
    summary->not_portable.push_back(
        "lm_head: transformers' GPTQ loader replaces only block linears (GPTQModel.load reads it)");
  }
  if (summary->dense.size() > (lm_head_quantized ? 0u : 1u)) {
    summary->not_portable.push_back(
        "dense block linears: listed in quantize_config 'dynamic', which GPTQModel.load honours "
        "and transformers' GPTQ loader does not");
  }
  f.v1_zeros = v1_zeros;
  f.lm_head = lm_head_quantized;

  nlohmann::json qc = {{"quant_method", "gptq"},
                       {"bits", f.bits},
                       {"group_size", f.group_size},
                       {"desc_act", f.desc_act},
                       {"sym", f.sym},
                       {"lm_head", f.lm_head},
                       {"checkpoint_format", f.v1_zeros ? "gptq" : "gptq_v2"},
                       {"pack_dtype", "int32"},
                       {"true_sequential", true},
                       {"meta", {{"quantizer", {absl::StrCat("llmq:", kLlmqVersion)}}}}};
  if (!summary->dense.empty()) {
    // GPTQModel's per-module overrides: "-:" + regex leaves a module unquantized.
    nlohmann::json dynamic = nlohmann::json::object();
    for (const std::string& name : summary->dense) {
      if (name == "lm_head") continue;
      std::string regex = "^";
      for (char ch : name) regex += ch == '.' ? std::string("\\.") : std::string(1, ch);
      dynamic["-:" + regex + "$"] = nlohmann::json::object();
    }
    if (!dynamic.empty()) qc["dynamic"] = dynamic;
  }
  return qc;
}

}  // namespace

absl::StatusOr<GptqExportSummary> ExportGptq(CausalLM& model, const std::string& out_dir,
                                             const GptqExportOptions& options) {
  return CatchExceptions(absl::StrCat("exporting GPTQ to ", out_dir),
                         [&]() -> absl::StatusOr<GptqExportSummary> {
    const ModelConfig& c = model.config();
    const bool phi = c.arch == Architecture::kPhi;
    GptqExportSummary summary;
    NamedTensors tensors;
    tensors.emplace_back("model.embed_tokens.weight", model.embedding());
    for (int i = 0; i < model.num_layers(); ++i) {
      const std::string p = absl::StrCat("model.layers.", i, ".");
      AddNorm(model.block(i).attn_norm, p + "input_layernorm", &tensors);
      if (model.block(i).mlp_norm.weight.defined()) {
        AddNorm(model.block(i).mlp_norm, p + "post_attention_layernorm", &tensors);
      }
    }
    AddNorm(model.final_norm(), phi ? "model.final_layernorm" : "model.norm", &tensors);

    GptqFormat& f = summary.format;
    LlmqLayers llmq_layers;
    bool first = true, lm_head_quantized = false, lm_head_llmq = false;
    f.sym = true;
    for (NamedLinear& l : model.Linears()) {
      Linear* layer = l.slot->get();
      if (auto* q = dynamic_cast<QuantizedLinear*>(layer)) {
        if (first) {
          f.bits = q->bits();
          f.group_size = q->group_size();
          first = false;
        } else if (q->bits() != f.bits || q->group_size() != f.group_size) {
          return absl::InvalidArgumentError(absl::StrCat(
              l.name, ": ", q->Describe(), " differs from the other layers' int", f.bits, " g",
              f.group_size, " (a GPTQ checkpoint has one bit width and group size)"));
        }
        LLMQ_ASSIGN_OR_RETURN(GptqTensors t, ToGptqTensors(*q, options.v1_zeros));
        f.desc_act = f.desc_act || q->g_idx().defined();
        f.sym = f.sym && q->Zeros().eq(1 << (f.bits - 1)).all().item<bool>();
        lm_head_quantized = lm_head_quantized || l.layer < 0;
        tensors.emplace_back(l.name + ".qweight", t.qweight);
        tensors.emplace_back(l.name + ".qzeros", t.qzeros);
        tensors.emplace_back(l.name + ".scales", t.scales);
        tensors.emplace_back(l.name + ".g_idx", t.g_idx);
        if (q->in_features() * f.bits % 32 != 0) {
          summary.not_portable.push_back(absl::StrCat(
              l.name, ": in_features ", q->in_features(), " * ", f.bits,
              " bits does not fill whole int32 words (qweight zero-padded)"));
        } else if (f.group_size > 0 && q->in_features() % f.group_size != 0) {
          summary.not_portable.push_back(absl::StrCat(l.name, ": in_features ", q->in_features(),
                                                      " % group_size != 0 (short last group)"));
        }
        summary.quantized.push_back(l.name);
      } else if (auto* d = dynamic_cast<DenseLinear*>(layer)) {
        const bool tied = l.layer < 0 && d->weight().is_same(model.embedding());
        if (!tied) tensors.emplace_back(l.name + ".weight", d->weight());
        summary.dense.push_back(l.name);
      } else if (IsLlmqLayer(*layer)) {
        LLMQ_RETURN_IF_ERROR(AddLlmqLayer(l.name, *layer, &tensors, &llmq_layers));
        lm_head_llmq = lm_head_llmq || l.layer < 0;
        summary.llmq.push_back(l.name);
      } else {
        return absl::UnimplementedError(
            absl::StrCat(l.name, ": cannot export a '", layer->Describe(), "' layer"));
      }
      if (layer->bias().defined()) tensors.emplace_back(l.name + ".bias", layer->bias());
    }
    if (first && llmq_layers.empty()) return absl::FailedPreconditionError("no quantized linear to export");
    const bool gptq = !first;
    nlohmann::json qc;
    if (gptq) {
      qc = GptqQuantizeConfig(&summary, lm_head_quantized, options.v1_zeros);
    } else {
      qc = {{"quant_method", kLlmqQuantMethod},
            {"layers_file", kLlmqLayersFile},
            {"meta", {{"quantizer", {absl::StrCat("llmq:", kLlmqVersion)}}}}};
    }
    if (!llmq_layers.empty()) {
      summary.not_portable.push_back(absl::StrCat(summary.llmq.size(), " int8/fp8/spqr linears in llmq's own tensors (",
                                                  kLlmqLayersFile, "): only llmq reads them"));
    }

    const std::string src_dir = SourceDir(options.source);
    nlohmann::json config;
    if (!src_dir.empty() && FileExists(JoinPath(src_dir, "config.json"))) {
      LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(JoinPath(src_dir, "config.json")));
      config = nlohmann::json::parse(text);
    } else {
      LLMQ_ASSIGN_OR_RETURN(config, ConfigFromModel(c));
    }
    if (config.contains("dtype")) config["dtype"] = DtypeName(model.dtype());
    config["torch_dtype"] = DtypeName(model.dtype());
    if (lm_head_quantized || lm_head_llmq) config["tie_word_embeddings"] = false;
    config["quantization_config"] = qc;

    LLMQ_RETURN_IF_ERROR(MakeDirectories(out_dir));
    LLMQ_RETURN_IF_ERROR(WriteSafetensors(JoinPath(out_dir, "model.safetensors"), tensors,
                                          {{"format", "pt"}}));
    LLMQ_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(out_dir, "config.json"), config.dump(2) + "\n"));
    summary.files = {"model.safetensors", "config.json"};
    if (gptq) {
      LLMQ_RETURN_IF_ERROR(
          WriteFileAtomically(JoinPath(out_dir, "quantize_config.json"), qc.dump(2) + "\n"));
      summary.files.push_back("quantize_config.json");
    }
    if (!llmq_layers.empty()) {
      LLMQ_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(out_dir, kLlmqLayersFile), LlmqLayersJson(llmq_layers)));
      summary.files.push_back(kLlmqLayersFile);
    }
    if (!src_dir.empty()) {
      for (const auto& [from, to] : FilesToCopy(src_dir)) {
        LLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFile(JoinPath(src_dir, from)));
        LLMQ_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(out_dir, to), bytes));
        summary.files.push_back(to);
      }
    }
    return summary;
  });
}

}  // namespace llmq
