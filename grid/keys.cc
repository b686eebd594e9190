// Canonical job and quantization keys, and the identities of model and dataset files.
#include "grid/keys.h"

#include <algorithm>
#include <dirent.h>
#include <cstdint>
#include <fstream>
#include <map>
#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest_cache.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/version.h"
#include "grid/grid.h"
#include "grid/schema.h"
#include "nlohmann/json.hpp"

namespace llmq {
namespace {

// Bump when the record layout changes (not when results change: that is kResultVersion).
constexpr char kJobRecordVersion[] = "llmq-job-key/1";
constexpr char kQuantRecordVersion[] = "llmq-quant-key/1";

void AddLine(std::string* record, absl::string_view name, absl::string_view value) {
  absl::StrAppend(record, name, "=", absl::CEscape(value), "\n");
}

// A dataset value as it enters a key: a bundled name as itself, a file as its identity.
absl::StatusOr<std::string> KeyValue(const GridParamSchema& param, const std::string& value,
                                     const PathIdentities& identities) {
  if (!IsFileValue(param, value)) return value;
  const auto it = identities.find(value);
  if (it == identities.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(param.name, ": no identity for file ", value,
                     " (compute it with ComputeGridIdentities)"));
  }
  return absl::StrCat("file:", it->second);
}

// The result-affecting parameters of `params` under `schema`, defaults filled in, sorted,
// one line each.
absl::Status AddParams(const GridEntrySchema& schema, absl::string_view prefix,
                       const google::protobuf::Map<std::string, std::string>& params,
                       const PathIdentities& identities, std::string* record) {
  LLMQ_ASSIGN_OR_RETURN(
      const auto complete,
      CompleteParams(schema, std::map<std::string, std::string>(params.begin(), params.end())));
  for (const auto& [name, value] : complete) {  // std::map: sorted by name
    const GridParamSchema* param = schema.FindParam(name);
    if (!param->affects_result) continue;
    if (param->keyed_only_when_set && value == param->default_value) continue;
    LLMQ_ASSIGN_OR_RETURN(const std::string key_value, KeyValue(*param, value, identities));
    AddLine(record, absl::StrCat(prefix, name), key_value);
  }
  return absl::OkStatus();
}

absl::StatusOr<const GridEntrySchema*> MethodSchema(const v1::JobSpec& job) {
  const GridEntrySchema* method = FindGridMethod(job.method().name());
  if (method == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown method ", job.method().name()));
  }
  return method;
}

// The fields quant_key and job_key share: model, method, calibration.
absl::Status AddQuantFields(const v1::JobSpec& job, const PathIdentities& identities,
                            std::string* record) {
  if (job.model().identity().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", job.model().path(), " has no identity"));
  }
  LLMQ_ASSIGN_OR_RETURN(const GridEntrySchema* method, MethodSchema(job));
  AddLine(record, "model.identity", job.model().identity());
  AddLine(record, "model.dtype", job.model().dtype());
  AddLine(record, "method.name", method->name);
  LLMQ_RETURN_IF_ERROR(
      AddParams(*method, "method.", job.method().params(), identities, record));
  if (!method->calibrates) return absl::OkStatus();
  const v1::CalibrationSpec& calibration = job.calibration();
  const GridParamSchema* dataset = GridCalibrationSchema().FindParam("dataset");
  LLMQ_ASSIGN_OR_RETURN(const std::string dataset_value,
                        KeyValue(*dataset, calibration.dataset(), identities));
  AddLine(record, "calibration.dataset", dataset_value);
  AddLine(record, "calibration.samples", absl::StrCat(calibration.samples()));
  AddLine(record, "calibration.seq_len", absl::StrCat(calibration.seq_len()));
  AddLine(record, "calibration.seed", absl::StrCat(calibration.seed()));
  AddLine(record, "calibration.mode", calibration.mode());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CanonicalQuantRecord(const v1::JobSpec& job,
                                                 const PathIdentities& identities) {
  std::string record = absl::StrCat(kQuantRecordVersion, "\n");
  AddLine(&record, "result_version", absl::StrCat(kResultVersion));
  LLMQ_RETURN_IF_ERROR(AddQuantFields(job, identities, &record));
  return record;
}

absl::StatusOr<std::string> CanonicalJobRecordHead(const v1::JobSpec& job,
                                                   const PathIdentities& identities) {
  std::string record = absl::StrCat(kJobRecordVersion, "\n");
  AddLine(&record, "result_version", absl::StrCat(kResultVersion));
  LLMQ_RETURN_IF_ERROR(AddQuantFields(job, identities, &record));
  return record;
}

absl::StatusOr<std::string> CanonicalTaskRecord(const v1::TaskSpec& task,
                                                const PathIdentities& identities) {
  const GridEntrySchema* schema = FindGridTask(task.name());
  if (schema == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown task ", task.name()));
  }
  std::string record;
  AddLine(&record, "task.name", schema->name);
  LLMQ_RETURN_IF_ERROR(AddParams(*schema, "task.", task.params(), identities, &record));
  return record;
}

std::string CanonicalRepeatRecord(int repeat) {
  std::string record;
  AddLine(&record, "repeat", absl::StrCat(repeat));
  return record;
}

absl::StatusOr<std::string> CanonicalJobRecord(const v1::JobSpec& job,
                                               const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const std::string head, CanonicalJobRecordHead(job, identities));
  LLMQ_ASSIGN_OR_RETURN(const std::string task, CanonicalTaskRecord(job.task(), identities));
  return absl::StrCat(head, task, CanonicalRepeatRecord(job.repeat()));
}

absl::StatusOr<std::string> ComputeJobKey(const v1::JobSpec& job,
                                          const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const std::string record, CanonicalJobRecord(job, identities));
  return Sha256Hex(record);
}

absl::StatusOr<std::string> ComputeQuantKey(const v1::JobSpec& job,
                                            const PathIdentities& identities) {
  LLMQ_ASSIGN_OR_RETURN(const std::string record, CanonicalQuantRecord(job, identities));
  return Sha256Hex(record);
}

}  // namespace llmq

// ComputeGridIdentities: the identities of every model and dataset file a grid names, as
// the client computes them before a submission.
namespace llmq {
namespace {

// The error of reading a file the grid names, at the place the grid names it.
absl::Status AtPlace(const Grid& grid, GridLocation where, absl::string_view what,
                     const absl::Status& status) {
  return absl::Status(status.code(),
                      FormatGridError(grid.file, where, absl::StrCat(what, ": ", status.message())));
}

// Adds the identity of every file-valued parameter of `entry` (a dataset path).
absl::Status AddFileIdentities(const Grid& grid, const GridEntry& entry,
                               const GridEntrySchema& schema, absl::string_view section,
                               PathIdentities* identities) {
  for (const GridAxis& axis : entry.axes) {
    const GridParamSchema* param = schema.FindParam(axis.param);
    for (const std::string& value : axis.values) {
      if (param == nullptr || !IsFileValue(*param, value) || identities->count(value) != 0) {
        continue;
      }
      absl::StatusOr<std::string> identity = ComputeFileIdentity(value);
      if (!identity.ok()) {
        return AtPlace(grid, axis.where, absl::StrCat(section, entry.name, ": ", axis.param),
                       identity.status());
      }
      (*identities)[value] = *identity;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PathIdentities> ComputeGridIdentities(const Grid& grid) {
  PathIdentities identities;
  for (const GridModel& model : grid.models) {
    if (identities.count(model.path) != 0) continue;
    absl::StatusOr<std::string> identity = ComputeModelIdentity(model.path);
    if (!identity.ok()) {
      return AtPlace(grid, model.where, absl::StrCat("models: ", model.alias), identity.status());
    }
    identities[model.path] = *identity;
  }
  for (const GridEntry& entry : grid.methods) {
    if (const GridEntrySchema* schema = FindGridMethod(entry.name)) {
      LLMQ_RETURN_IF_ERROR(AddFileIdentities(grid, entry, *schema, "methods: ", &identities));
    }
  }
  LLMQ_RETURN_IF_ERROR(
      AddFileIdentities(grid, grid.calibration, GridCalibrationSchema(), "", &identities));
  for (const GridEntry& entry : grid.tasks) {
    if (const GridEntrySchema* schema = FindGridTask(entry.name)) {
      LLMQ_RETURN_IF_ERROR(AddFileIdentities(grid, entry, *schema, "tasks: ", &identities));
    }
  }
  return identities;
}

}  // namespace llmq

namespace llmq {
namespace {

// Bump when the identity record changes (it changes every identity, hence every key).
constexpr char kModelIdentityVersion[] = "llmq-model-identity/1";
constexpr char kFileIdentityVersion[] = "llmq-file-identity/1";

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Names of the entries of `directory` (not "." and ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return absl::NotFoundError(absl::StrCat(directory, ": cannot list"));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsHuggingFaceFile(const std::string& name) {
  static const char* const kNamed[] = {
      "config.json",          "generation_config.json",  "quantize_config.json",
      "tokenizer.json",       "tokenizer.model",         "tokenizer_config.json",
      "special_tokens_map.json", "added_tokens.json",    "vocab.json",
      "merges.txt"};
  for (const char* named : kNamed) {
    if (name == named) return true;
  }
  return absl::EndsWith(name, ".safetensors") || absl::EndsWith(name, ".safetensors.index.json");
}

bool IsLlama2cTokenizer(const std::string& name) {
  return absl::StartsWith(name, "tok") &&
         (absl::EndsWith(name, ".bin") || absl::EndsWith(name, ".model"));
}

// Every regular file below `directory`, as names relative to it ("a/b.txt"), sorted.
absl::Status ListFilesRecursively(const std::string& directory, const std::string& prefix,
                                  std::vector<std::string>* files) {
  LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                        ListDirectory(JoinPath(directory, prefix)));
  for (const std::string& name : names) {
    const std::string relative = prefix.empty() ? name : absl::StrCat(prefix, "/", name);
    const std::string full = JoinPath(directory, relative);
    if (IsDirectory(full)) {
      LLMQ_RETURN_IF_ERROR(ListFilesRecursively(directory, relative, files));
    } else if (IsRegularFile(full)) {
      files->push_back(relative);
    }
  }
  return absl::OkStatus();
}

// SHA-256 over the version tag and each (relative name, SHA-256 of the file) pair.
absl::StatusOr<std::string> HashFiles(absl::string_view version, const std::string& directory,
                                      const std::vector<std::string>& names) {
  Sha256 hash;
  hash.UpdateField(version);
  for (const std::string& name : names) {
    LLMQ_ASSIGN_OR_RETURN(const std::string digest, CachedSha256File(JoinPath(directory, name)));
    hash.UpdateField(name);
    hash.UpdateField(digest);
  }
  return hash.HexDigest();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ModelDefiningFiles(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such model"));
  std::vector<std::string> files;
  if (!IsDirectory(path)) {
    // A llama2.c checkpoint file and the tokenizers beside it.
    const std::string directory = DirectoryOf(path);
    LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(directory));
    files.push_back(path.substr(path.find_last_of('/') + 1));
    for (const std::string& name : names) {
      if (IsLlama2cTokenizer(name) && name != files[0]) files.push_back(name);
    }
  } else {
    LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(path));
    const bool hugging_face = std::find(names.begin(), names.end(), "config.json") != names.end();
    for (const std::string& name : names) {
      if (!IsRegularFile(JoinPath(path, name))) continue;
      const bool defining = hugging_face
                                ? IsHuggingFaceFile(name)
                                : absl::EndsWith(name, ".bin") || IsLlama2cTokenizer(name);
      if (defining) files.push_back(name);
    }
    if (files.empty()) {
      return absl::NotFoundError(absl::StrCat(
          path, ": no model files (expected config.json with *.safetensors, or a llama2.c "
                ".bin checkpoint)"));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ComputeModelIdentity(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> files, ModelDefiningFiles(path));
  const std::string directory = IsDirectory(path) ? path : DirectoryOf(path);
  return HashFiles(kModelIdentityVersion, directory, files);
}

absl::StatusOr<std::string> ComputeFileIdentity(const std::string& path) {
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (!IsDirectory(path)) {
    LLMQ_ASSIGN_OR_RETURN(const std::string digest, CachedSha256File(path));
    Sha256 hash;
    hash.UpdateField(kFileIdentityVersion);
    hash.UpdateField(digest);
    return hash.HexDigest();
  }
  std::vector<std::string> files;
  LLMQ_RETURN_IF_ERROR(ListFilesRecursively(path, "", &files));
  std::sort(files.begin(), files.end());
  return HashFiles(kFileIdentityVersion, path, files);
}

}  // namespace llmq

namespace llmq {

absl::StatusOr<int> ReadModelBlockCount(const std::string& path) {
  const std::string config = JoinPath(path, "config.json");
  if (IsRegularFile(config)) {
    LLMQ_ASSIGN_OR_RETURN(const std::string text, ReadFile(config));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("num_hidden_layers") ||
        !j["num_hidden_layers"].is_number_integer() || j["num_hidden_layers"].get<int64_t>() < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          config, ": num_hidden_layers: expected a positive integer (the number of blocks)"));
    }
    return static_cast<int>(j["num_hidden_layers"].get<int64_t>());
  }
  // A llama2.c checkpoint (the file, or the one .bin of a directory without config.json):
  // seven int32s, dim, hidden_dim, n_layers, ...
  LLMQ_ASSIGN_OR_RETURN(const std::vector<std::string> files, ModelDefiningFiles(path));
  std::string checkpoint;
  for (const std::string& name : files) {
    if (absl::EndsWith(name, ".bin") && !absl::StartsWith(name, "tok")) {
      checkpoint = IsRegularFile(path) ? path : JoinPath(path, name);
      break;
    }
  }
  if (checkpoint.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no config.json or llama2.c checkpoint to read the block count from"));
  }
  std::ifstream in(checkpoint, std::ios::binary);
  int32_t header[3] = {0, 0, 0};
  if (!in.read(reinterpret_cast<char*>(header), sizeof(header)) || header[2] < 1 ||
      header[2] > (1 << 16)) {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint, ": expected a llama2.c header with n_layers in 1..65536"));
  }
  return header[2];
}

}  // namespace llmq

namespace llmq {

bool EntryScansLayers(const GridEntry& entry) {
  for (const GridAxis& axis : entry.axes) {
    if (axis.param != "scan") continue;
    for (const std::string& value : axis.values) {
      if (value == "layers") return true;
    }
  }
  return false;
}

bool GridScansLayers(const Grid& grid) {
  for (const GridEntry& entry : grid.methods) {
    if (EntryScansLayers(entry)) return true;
  }
  return false;
}

absl::Status ReadGridModelBlocks(Grid* grid) {
  if (!GridScansLayers(*grid)) return absl::OkStatus();
  for (GridModel& model : grid->models) {
    absl::StatusOr<int> blocks = ReadModelBlockCount(model.path);
    if (!blocks.ok()) {
      return AtPlace(*grid, model.where,
                     absl::StrCat("models: ", model.alias, " (scan: layers needs its blocks)"),
                     blocks.status());
    }
    model.blocks = *blocks;
  }
  return absl::OkStatus();
}

}  // namespace llmq
