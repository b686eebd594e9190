#include "model/loader.h"

#include <ATen/ATen.h>
#include <dirent.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "model/checkpoint.h"
#include "model/gptq_checkpoint.h"
#include "model/llmq_checkpoint.h"

namespace llmq {
namespace {

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// (n_heads * head_dim, in) interleaved-pair rows -> rotate-half rows, per head.
at::Tensor PermuteForRotateHalf(const at::Tensor& w, int64_t n_heads) {
  const int64_t rows = w.size(0), cols = w.size(1);
  return w.view({n_heads, rows / n_heads / 2, 2, cols}).transpose(1, 2).reshape({rows, cols});
}

// The llama2.c tokenizer of checkpoint `path`: the first tok*.bin beside it.
absl::StatusOr<std::string> Llama2cTokenizerBeside(const std::string& path) {
  const std::string dir = DirName(path);
  for (const std::string& name : ListDir(dir)) {
    if (absl::StartsWith(name, "tok") && absl::EndsWith(name, ".bin")) return JoinPath(dir, name);
  }
  return absl::NotFoundError(
      absl::StrCat(path, ": no llama2.c tokenizer (tok*.bin) beside the checkpoint in ", dir));
}

absl::StatusOr<LoadedModel> LoadLlama2c(const std::string& path, const LoadOptions& options,
                                        bool with_tokenizer) {
  LLMQ_ASSIGN_OR_RETURN(Llama2cWeights weights, ReadLlama2cCheckpoint(path));
  LoadedModel loaded;
  loaded.format = "llama2c";
  loaded.files.push_back(path);
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    auto it = weights.tensors.find(name);
    if (it == weights.tensors.end()) {
      return absl::NotFoundError(absl::StrCat(path, ": missing tensor '", name, "'"));
    }
    return it->second;
  };
  LLMQ_ASSIGN_OR_RETURN(loaded.model,
                        CausalLM::Create(weights.config, lookup, options.dtype, options.device));
  if (!with_tokenizer) return loaded;
  LLMQ_ASSIGN_OR_RETURN(const std::string tokenizer_path, Llama2cTokenizerBeside(path));
  LLMQ_ASSIGN_OR_RETURN(loaded.tokenizer, LoadLlama2cTokenizer(tokenizer_path));
  loaded.files.push_back(tokenizer_path);
  return loaded;
}

absl::StatusOr<LoadedModel> LoadHf(const std::string& dir, const LoadOptions& options,
                                   bool with_tokenizer) {
  const std::string config_path = JoinPath(dir, "config.json");
  LLMQ_ASSIGN_OR_RETURN(ModelConfig config, LoadHfConfig(config_path));
  LLMQ_ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::Open(dir));
  LLMQ_ASSIGN_OR_RETURN(std::optional<GptqFormat> gptq, ReadGptqFormat(dir));
  LLMQ_ASSIGN_OR_RETURN(std::optional<LlmqLayers> llmq, ReadLlmqLayers(dir));
  LoadedModel loaded;
  loaded.format = llmq ? "llmq" : gptq ? "gptq" : "hf";
  loaded.files.push_back(config_path);
  if (gptq && FileExists(JoinPath(dir, "quantize_config.json"))) {
    loaded.files.push_back(JoinPath(dir, "quantize_config.json"));
  }
  if (llmq) loaded.files.push_back(JoinPath(dir, kLlmqLayersFile));
  for (const std::string& f : checkpoint->Files()) loaded.files.push_back(f);
  auto lookup = [&](const std::string& name) { return checkpoint->Get(name); };
  auto model = gptq || llmq ? LoadQuantizedModel(config, gptq, llmq ? *llmq : LlmqLayers(), *checkpoint,
                                                 options.dtype, options.device)
                            : CausalLM::Create(config, lookup, options.dtype, options.device);
  if (!model.ok()) return Annotate(model.status(), dir);
  loaded.model = std::move(model).value();
  if (!with_tokenizer) return loaded;
  LLMQ_ASSIGN_OR_RETURN(loaded.tokenizer, LoadTokenizerForModel(dir));
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) {
    if (FileExists(JoinPath(dir, name))) loaded.files.push_back(JoinPath(dir, name));
  }
  return loaded;
}

}  // namespace

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "f32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "f16" || name == "half") return at::kHalf;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", name, "' (expected float32, bfloat16 or float16)"));
}

absl::StatusOr<Llama2cWeights> ReadLlama2cCheckpoint(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> map, MappedFile::Open(path));
  if (map->size() < 28) {
    return absl::DataLossError(absl::StrCat(path, ": too short for a llama2.c header (",
                                            map->size(), " bytes, need 28)"));
  }
  int32_t h[7];
  std::memcpy(h, map->data(), sizeof(h));
  const int64_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4];
  const bool shared_classifier = h[5] > 0;
  const int64_t vocab = shared_classifier ? h[5] : -static_cast<int64_t>(h[5]);
  const int64_t seq_len = h[6];
  if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || vocab <= 0 ||
      seq_len <= 0 || dim % heads != 0 || heads % kv_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a llama2.c v0 checkpoint (header dim=", dim, " hidden=", hidden,
                     " layers=", layers, " heads=", heads, " kv_heads=", kv_heads,
                     " vocab=", vocab, " seq_len=", seq_len, ")"));
  }
  const int64_t head = dim / heads, kv_dim = kv_heads * head;
  Llama2cWeights out;
  ModelConfig& c = out.config;
  c.arch = Architecture::kLlama;
  c.vocab_size = vocab;
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head;
  c.max_position_embeddings = seq_len;
  c.tie_word_embeddings = shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_id = 2;

  // Float32 arrays in file order; freq_cis tables are skipped (RoPE is recomputed).
  struct Part { const char* name; std::vector<int64_t> shape; };
  const std::vector<Part> parts = {
      {"tok", {vocab, dim}},       {"rms_att", {layers, dim}},   {"wq", {layers, dim, dim}},
      {"wk", {layers, kv_dim, dim}}, {"wv", {layers, kv_dim, dim}}, {"wo", {layers, dim, dim}},
      {"rms_ffn", {layers, dim}},  {"w1", {layers, hidden, dim}}, {"w2", {layers, dim, hidden}},
      {"w3", {layers, hidden, dim}}, {"rms_final", {dim}},       {"freq_real", {seq_len, head / 2}},
      {"freq_imag", {seq_len, head / 2}}};
  size_t offset = 28;
  std::map<std::string, at::Tensor> raw;
  auto take = [&](const Part& p) -> absl::Status {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    const size_t bytes = static_cast<size_t>(n) * 4;
    if (offset + bytes > map->size()) {
      return absl::DataLossError(absl::StrCat(path, ": truncated llama2.c checkpoint: '", p.name,
                                              "' needs bytes up to ", offset + bytes,
                                              ", file has ", map->size()));
    }
    at::Tensor t = at::empty(p.shape, at::kFloat);
    std::memcpy(t.data_ptr(), map->data() + offset, bytes);
    raw[p.name] = t;
    offset += bytes;
    return absl::OkStatus();
  };
  for (const Part& p : parts) LLMQ_RETURN_IF_ERROR(take(p));
  if (!shared_classifier) LLMQ_RETURN_IF_ERROR(take({"wcls", {vocab, dim}}));

  auto& t = out.tensors;
  t["model.embed_tokens.weight"] = raw["tok"];
  t["model.norm.weight"] = raw["rms_final"];
  if (!shared_classifier) t["lm_head.weight"] = raw["wcls"];
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    t[p + "input_layernorm.weight"] = raw["rms_att"][l];
    t[p + "post_attention_layernorm.weight"] = raw["rms_ffn"][l];
    t[p + "self_attn.q_proj.weight"] = PermuteForRotateHalf(raw["wq"][l], heads);
    t[p + "self_attn.k_proj.weight"] = PermuteForRotateHalf(raw["wk"][l], kv_heads);
    t[p + "self_attn.v_proj.weight"] = raw["wv"][l];
    t[p + "self_attn.o_proj.weight"] = raw["wo"][l];
    t[p + "mlp.gate_proj.weight"] = raw["w1"][l];
    t[p + "mlp.down_proj.weight"] = raw["w2"][l];
    t[p + "mlp.up_proj.weight"] = raw["w3"][l];
  }
  return out;
}

namespace {

// Where the model of `path` is: a Hugging Face directory, or a llama2.c checkpoint file.
struct ModelLocation {
  bool hf = false;
  std::string path;
};

absl::StatusOr<ModelLocation> Locate(const std::string& path) {
  if (IsDirectory(path)) {
    if (FileExists(JoinPath(path, "config.json"))) return ModelLocation{true, path};
    for (const std::string& name : ListDir(path)) {
      if (absl::EndsWith(name, ".bin") && !absl::StartsWith(name, "tok")) {
        return ModelLocation{false, JoinPath(path, name)};
      }
    }
    return absl::NotFoundError(absl::StrCat(
        path, ": not a model directory (no config.json and no llama2.c .bin checkpoint)"));
  }
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  return ModelLocation{false, path};
}

absl::StatusOr<LoadedModel> Load(const std::string& path, const LoadOptions& options,
                                 bool with_tokenizer) {
  return CatchExceptions(absl::StrCat("loading ", path), [&]() -> absl::StatusOr<LoadedModel> {
    LLMQ_ASSIGN_OR_RETURN(const ModelLocation where, Locate(path));
    return where.hf ? LoadHf(where.path, options, with_tokenizer)
                    : LoadLlama2c(where.path, options, with_tokenizer);
  });
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const std::string& path, const LoadOptions& options) {
  return Load(path, options, /*with_tokenizer=*/true);
}

absl::StatusOr<LoadedModel> LoadModelWithoutTokenizer(const std::string& path,
                                                      const LoadOptions& options) {
  return Load(path, options, /*with_tokenizer=*/false);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& path) {
  return CatchExceptions(absl::StrCat("loading the tokenizer of ", path),
                         [&]() -> absl::StatusOr<std::unique_ptr<Tokenizer>> {
    LLMQ_ASSIGN_OR_RETURN(const ModelLocation where, Locate(path));
    if (where.hf) return LoadTokenizerForModel(where.path);
    LLMQ_ASSIGN_OR_RETURN(const std::string tokenizer_path, Llama2cTokenizerBeside(where.path));
    return LoadLlama2cTokenizer(tokenizer_path);
  });
}

}  // namespace llmq
