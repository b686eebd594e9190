#include "model/checkpoint.h"

#include <nlohmann/json.hpp>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace llmq {

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  auto checkpoint = std::make_unique<Checkpoint>();
  checkpoint->dir_ = dir;
  std::vector<std::string> shards;
  const std::string index_path = JoinPath(dir, "model.safetensors.index.json");
  const std::string single_path = JoinPath(dir, "model.safetensors");
  if (FileExists(index_path)) {
    LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(index_path));
    nlohmann::json index = nlohmann::json::parse(text, nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": expected a JSON object with a 'weight_map' object"));
    }
    std::set<std::string> unique;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": weight_map['", it.key(), "'] is not a file name"));
      }
      unique.insert(it->get<std::string>());
    }
    shards.assign(unique.begin(), unique.end());
  } else if (FileExists(single_path)) {
    shards.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(absl::StrCat(
        dir, ": no model.safetensors or model.safetensors.index.json in the model directory"));
  }
  for (const std::string& shard : shards) {
    LLMQ_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(JoinPath(dir, shard)));
    for (const auto& [name, entry] : file->entries()) {
      checkpoint->owner_[name] = file.get();
    }
    checkpoint->files_.push_back(std::move(file));
  }
  return checkpoint;
}

absl::StatusOr<at::Tensor> Checkpoint::Get(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) {
    return absl::NotFoundError(absl::StrCat(dir_, ": missing tensor '", name, "'"));
  }
  return it->second->Get(name);
}

std::string Checkpoint::PathOf(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? dir_ : it->second->path();
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, file] : owner_) names.push_back(name);
  return names;
}

std::vector<std::string> Checkpoint::Files() const {
  std::vector<std::string> paths;
  for (const auto& f : files_) paths.push_back(f->path());
  return paths;
}

}  // namespace llmq
