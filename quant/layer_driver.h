// The layer-sequential driver every calibrated method runs under (GPTQ's and AWQ's
// recipe): the calibration windows are embedded once; then block by block
//   1. for each stage of the block (true-sequential: q/k/v -> o -> gate/up -> down; for a
//      parallel Phi block q/k/v/fc1 -> dense -> fc2; otherwise one stage with every
//      linear), a pass over all windows (in chunks of `batch_size` windows) shows each
//      observed linear of the stage its input, computed with the stages before it already
//      processed; then the method processes the stage (quantizes, rescales, ...);
//   2. the block's output is computed WITH its processed layers and becomes the next
//      block's input: block i+1 is calibrated on what quantized blocks 0..i produce.
// A pass computes only as far into the block as its stage's inputs, and activations that
// depend only on processed layers are kept for the later passes (BlockActivations in the
// .cc): under true-sequential a Llama block costs one forward (plus gate/up once more
// when their product is not kept: LayerDriverOptions::mlp_activation_bytes).
// Held at a time: one block's input activations (samples, seq_len, hidden) in the model's
// dtype, plus, under true-sequential, o_proj's input or the attention residual (the same
// size again) and, within the budget, down_proj's inputs (intermediate-sized), plus one
// chunk's intermediates. lm_head is never touched.
#ifndef LLMQ_QUANT_LAYER_DRIVER_H_
#define LLMQ_QUANT_LAYER_DRIVER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/transformer.h"
#include "quant/group_quant.h"

namespace llmq {

// What a method did to one linear, for the quantization report.
struct LayerRecord {
  std::string name;
  int layer = -1;
  std::string action;                   // "quantized" or "kept"
  std::string describe;                 // the layer now in the slot (Linear::Describe)
  double seconds = 0;                   // method time for this layer (observation passes excluded)
  std::map<std::string, double> stats;  // method-specific: damp_final, loss, alpha, ...
};

// Puts a quantized weight into a model slot (a packed QuantizedLinear, or a dense layer
// holding the dequantized weight), keeping the slot's bias.
using LayerInstaller = std::function<absl::Status(const NamedLinear&, const GroupQuantized&)>;
// Whether a layer stays dense (the `keep` patterns).
using KeepPredicate = std::function<bool(const std::string& name)>;

// What a method accumulates from one linear's inputs during a pass.
class InputObserver {
 public:
  virtual ~InputObserver() = default;
  // x: (batch, seq, in) in the model's dtype, as the linear receives it.
  virtual void Observe(const at::Tensor& x) = 0;
};

// A calibrated method as the driver sees it.
class BlockMethod {
 public:
  virtual ~BlockMethod() = default;
  // The observer for `linear` before a pass; nullptr leaves it unobserved. `same_input` is
  // the observer of an earlier linear of the stage that reads the same input tensor in
  // every forward (SameInputAs), or nullptr: a method may share what it accumulates.
  virtual std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear,
                                                     InputObserver* same_input) = 0;
  // After a pass: the stage's linears (forward order) and their observers (same order,
  // null where not observed). May replace or modify the stage's linears; with one stage
  // per block, anything in block `layer` (norms too). Under true-sequential it must not
  // change what earlier stages processed: the driver keeps activations computed from them.
  virtual absl::Status ProcessStage(CausalLM& model, int layer,
                                    const std::vector<NamedLinear>& stage,
                                    std::vector<std::unique_ptr<InputObserver>>& observers) = 0;
};

struct LayerDriverOptions {
  int64_t batch_size = 8;       // windows per block forward
  bool true_sequential = true;  // stages as above; false = one stage per block
  // Under true-sequential, down_proj's inputs for all windows are kept from the down
  // stage's pass for the block's output (instead of running gate/up again) when they take
  // at most this many bytes; -1: half of the memory the OS reports available when the
  // model is on the CPU, never on other devices. The results are the same either way.
  int64_t mlp_activation_bytes = -1;
  // After each block: (blocks done, blocks total).
  std::function<void(int, int)> progress;
};

// The stages of block `layer`, each a list of its linear slots in forward order.
std::vector<std::vector<NamedLinear>> BlockStages(CausalLM& model, int layer, bool true_sequential);

// For each linear of `stage` (a stage of block `layer`), the index in `stage` of the first
// linear that reads the same input tensor: q/k/v read the attention norm's output, gate/up
// the MLP norm's (Phi: q/k/v/fc1 the shared norm's); every other linear its own input.
std::vector<size_t> SameInputAs(CausalLM& model, int layer, const std::vector<NamedLinear>& stage);

// Whether the driver keeps down_proj's inputs of block `layer` under true-sequential:
// (samples, seq_len, its in_features) in the model's dtype fit mlp_activation_bytes.
bool KeepsMlpActivation(CausalLM& model, int layer, const at::Tensor& tokens,
                        const LayerDriverOptions& options);

// Runs `method` over every block of `model` on `tokens` (samples, seq_len) int64.
// Exceptions from libtorch become a Status; the linear slots are restored on every path.
absl::Status RunLayerSequential(CausalLM& model, const at::Tensor& tokens, BlockMethod& method,
                                const LayerDriverOptions& options);

}  // namespace llmq

#endif  // LLMQ_QUANT_LAYER_DRIVER_H_
