// The weights of a Hugging Face model directory: model.safetensors, or the shards named
// by model.safetensors.index.json. Tensors are memory-mapped and looked up by name.
#ifndef LLMQ_MODEL_CHECKPOINT_H_
#define LLMQ_MODEL_CHECKPOINT_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/safetensors.h"

namespace llmq {

class Checkpoint {
 public:
  // Opens every safetensors file of `dir`. Errors name the file.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  bool Has(const std::string& name) const { return owner_.count(name) > 0; }
  // NotFound naming the directory and the tensor when absent.
  absl::StatusOr<at::Tensor> Get(const std::string& name) const;
  std::vector<std::string> Names() const;
  // The file that holds tensor `name`; for an absent one, the directory.
  std::string PathOf(const std::string& name) const;
  // The files the weights came from (for model identity and size on disk).
  std::vector<std::string> Files() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;
};

}  // namespace llmq

#endif  // LLMQ_MODEL_CHECKPOINT_H_
