#include "quant/layer_driver.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "quant/testing_models.h"

namespace llmq {
namespace {

using testing_models::RandomModel;
using testing_models::TinyConfig;

// Keeps every input it sees, in order.
class RecordingObserver : public InputObserver {
 public:
  void Observe(const at::Tensor& x) override { seen.push_back(x.clone()); }
  at::Tensor All() const { return at::cat(seen, 0); }  // (samples, seq, in)
  std::vector<at::Tensor> seen;
};

// A scripted method: observes everything, records stage names and inputs, and applies
// `edit` to each stage (to stand in for quantization).
class ScriptedMethod : public BlockMethod {
 public:
  std::function<void(int, const NamedLinear&)> edit;
  std::vector<std::vector<std::string>> stages;
  std::map<std::string, at::Tensor> inputs;  // by linear name
  absl::Status fail_at_layer_1 = absl::OkStatus();

  std::unique_ptr<InputObserver> NewObserver(const NamedLinear&, InputObserver*) override {
    return std::make_unique<RecordingObserver>();
  }
  absl::Status ProcessStage(CausalLM& model, int layer, const std::vector<NamedLinear>& stage,
                            std::vector<std::unique_ptr<InputObserver>>& observers) override {
    std::vector<std::string> names;
    for (size_t i = 0; i < stage.size(); ++i) {
      names.push_back(stage[i].name.substr(stage[i].name.rfind('.') + 1));
      inputs[stage[i].name] = static_cast<RecordingObserver*>(observers[i].get())->All();
    }
    stages.push_back(names);
    if (layer == 1 && !fail_at_layer_1.ok()) return fail_at_layer_1;
    if (edit) {
      for (const NamedLinear& linear : stage) edit(layer, linear);
    }
    return absl::OkStatus();
  }
};

at::Tensor RandomTokens(int64_t samples, int64_t seq, int64_t vocab) {
  at::manual_seed(11);
  return at::randint(vocab, {samples, seq}, at::kLong);
}

TEST(LayerDriverTest, TrueSequentialStagesFollowTheForwardOrder) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 1);
  ScriptedMethod method;
  LayerDriverOptions options;
  std::vector<std::pair<int, int>> progress;
  options.progress = [&](int done, int total) { progress.push_back({done, total}); };
  ASSERT_TRUE(RunLayerSequential(*model, RandomTokens(3, 10, 97), method, options).ok());
  const std::vector<std::vector<std::string>> block = {
      {"q_proj", "k_proj", "v_proj"}, {"o_proj"}, {"gate_proj", "up_proj"}, {"down_proj"}};
  ASSERT_EQ(method.stages.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(method.stages[i], block[i % 4]);
  EXPECT_EQ(progress, (std::vector<std::pair<int, int>>{{1, 2}, {2, 2}}));

  auto phi = RandomModel(TinyConfig(Architecture::kPhi, false), 1);
  ScriptedMethod phi_method;
  ASSERT_TRUE(RunLayerSequential(*phi, RandomTokens(2, 6, 97), phi_method, {}).ok());
  EXPECT_EQ(phi_method.stages[0], (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "fc1"}));
  EXPECT_EQ(phi_method.stages[1], (std::vector<std::string>{"dense"}));
  EXPECT_EQ(phi_method.stages[2], (std::vector<std::string>{"fc2"}));
}

// SameInputAs pairs exactly the linears whose recorded inputs are equal: q/k/v, gate/up
// (Phi: q/k/v/fc1), each other linear alone; with one stage per block as well.
TEST(LayerDriverTest, SameInputAsPairsLinearsThatSeeEqualInputs) {
  for (Architecture arch : {Architecture::kLlama, Architecture::kPhi}) {
    auto model = RandomModel(TinyConfig(arch, true), 2);
    ScriptedMethod method;
    LayerDriverOptions options;
    options.true_sequential = false;
    ASSERT_TRUE(RunLayerSequential(*model, RandomTokens(2, 5, 97), method, options).ok());
    const std::vector<NamedLinear> stage = BlockStages(*model, 1, false)[0];
    const std::vector<size_t> first = SameInputAs(*model, 1, stage);
    ASSERT_EQ(first.size(), stage.size());
    size_t groups = 0;
    for (size_t i = 0; i < stage.size(); ++i) {
      groups += first[i] == i;
      for (size_t j = 0; j < stage.size(); ++j) {
        const at::Tensor& a = method.inputs.at(stage[i].name);
        const at::Tensor& b = method.inputs.at(stage[j].name);
        const bool equal = a.sizes() == b.sizes() && a.equal(b);
        EXPECT_EQ(first[i] == first[j], equal) << stage[i].name << " " << stage[j].name;
      }
    }
    EXPECT_EQ(groups, arch == Architecture::kPhi ? 3u : 4u);
  }
}

// Shows each input to `watch`, then computes as the wrapped layer does (counts forwards,
// records inputs).
class WatchingLinear : public Linear {
 public:
  WatchingLinear(std::unique_ptr<Linear> inner, std::function<void(const at::Tensor&)> watch)
      : inner_(std::move(inner)), watch_(std::move(watch)) {}
  at::Tensor Forward(const at::Tensor& x) const override {
    watch_(x);
    return inner_->Forward(x);
  }
  int64_t in_features() const override { return inner_->in_features(); }
  int64_t out_features() const override { return inner_->out_features(); }
  int64_t WeightBytes() const override { return inner_->WeightBytes(); }
  std::string Describe() const override { return inner_->Describe(); }
  at::Tensor bias() const override { return inner_->bias(); }
  at::Tensor* mutable_dense_weight() override { return inner_->mutable_dense_weight(); }
  std::unique_ptr<Linear>& inner() { return inner_; }

 private:
  std::unique_ptr<Linear> inner_;
  std::function<void(const at::Tensor&)> watch_;
};

std::unique_ptr<Linear> Counting(std::unique_ptr<Linear> inner, int* calls) {
  return std::make_unique<WatchingLinear>(std::move(inner), [calls](const at::Tensor&) { ++*calls; });
}

// Observes q_proj only.
class QOnlyMethod : public BlockMethod {
 public:
  int observed = 0;
  std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear, InputObserver*) override {
    if (!absl::EndsWith(linear.name, "q_proj")) return nullptr;
    return std::make_unique<RecordingObserver>();
  }
  absl::Status ProcessStage(CausalLM&, int, const std::vector<NamedLinear>&,
                            std::vector<std::unique_ptr<InputObserver>>& observers) override {
    for (const auto& o : observers) {
      if (o != nullptr) observed += static_cast<int>(static_cast<RecordingObserver*>(o.get())->seen.size());
    }
    return absl::OkStatus();
  }
};

// A stage's pass computes only as far as its observed linears' inputs: with only q_proj
// observed, the MLP runs once per chunk (the block's output), not also in the stage's
// pass; q_proj still sees every chunk.
TEST(LayerDriverTest, StagePassesStopAfterTheLastObservedInput) {
  for (bool true_sequential : {true, false}) {
    auto model = RandomModel(TinyConfig(Architecture::kLlama, false), 2);
    int down_calls = 0;
    for (const NamedLinear& l : model->Linears()) {
      if (absl::EndsWith(l.name, "down_proj")) *l.slot = Counting(std::move(*l.slot), &down_calls);
    }
    QOnlyMethod method;
    LayerDriverOptions options;
    options.true_sequential = true_sequential;
    options.batch_size = 2;
    ASSERT_TRUE(RunLayerSequential(*model, RandomTokens(5, 8, 97), method, options).ok());
    EXPECT_EQ(down_calls, 2 * 3) << true_sequential;      // 2 blocks x 3 chunks
    EXPECT_EQ(method.observed, 2 * 3) << true_sequential;  // q_proj: every chunk of both blocks
  }
}

// Forwards per linear, block and chunk with every linear observed. Under true-sequential
// the activations computed from processed stages are kept: every linear runs once, or
// gate/up twice (down's pass and the output) when their product may not be kept. With one
// stage the pass computes everything but down_proj's product, the output everything again.
TEST(LayerDriverTest, KeptActivationsAreNotRecomputed) {
  struct Case {
    Architecture arch;
    bool true_sequential;
    int64_t mlp_activation_bytes;
    std::map<std::string, int> calls;  // per chunk, by the linear's last name part
  };
  const std::vector<Case> cases = {
      {Architecture::kLlama, true, -1,
       {{"q_proj", 1}, {"k_proj", 1}, {"v_proj", 1}, {"o_proj", 1}, {"gate_proj", 1}, {"up_proj", 1}, {"down_proj", 1}}},
      {Architecture::kLlama, true, 0,
       {{"q_proj", 1}, {"k_proj", 1}, {"v_proj", 1}, {"o_proj", 1}, {"gate_proj", 2}, {"up_proj", 2}, {"down_proj", 1}}},
      {Architecture::kLlama, false, -1,
       {{"q_proj", 2}, {"k_proj", 2}, {"v_proj", 2}, {"o_proj", 2}, {"gate_proj", 2}, {"up_proj", 2}, {"down_proj", 1}}},
      {Architecture::kPhi, true, -1, {{"q_proj", 1}, {"k_proj", 1}, {"v_proj", 1}, {"dense", 1}, {"fc1", 1}, {"fc2", 1}}},
      {Architecture::kPhi, true, 0, {{"q_proj", 1}, {"k_proj", 1}, {"v_proj", 1}, {"dense", 1}, {"fc1", 2}, {"fc2", 1}}},
      {Architecture::kPhi, false, -1, {{"q_proj", 2}, {"k_proj", 2}, {"v_proj", 2}, {"dense", 1}, {"fc1", 2}, {"fc2", 1}}},
  };
  for (const Case& c : cases) {
    auto model = RandomModel(TinyConfig(c.arch, false), 1);
    std::map<std::string, int> calls;
    for (const NamedLinear& l : model->Linears()) {
      if (l.layer < 0) continue;
      *l.slot = Counting(std::move(*l.slot), &calls[l.name.substr(l.name.rfind('.') + 1)]);
    }
    ScriptedMethod method;
    LayerDriverOptions options;
    options.true_sequential = c.true_sequential;
    options.mlp_activation_bytes = c.mlp_activation_bytes;
    options.batch_size = 2;
    ASSERT_TRUE(RunLayerSequential(*model, RandomTokens(5, 8, 97), method, options).ok());
    std::map<std::string, int> expected;
    for (const auto& [name, n] : c.calls) expected[name] = model->num_layers() * 3 * n;  // 3 chunks
    EXPECT_EQ(calls, expected) << ArchitectureName(c.arch) << " true_sequential=" << c.true_sequential
                               << " mlp_activation_bytes=" << c.mlp_activation_bytes;
  }
}

// Zeroing v_proj in the first stage makes the attention output, o_proj's input, exactly
// zero — which o_proj must see under true-sequential and must not see otherwise.
TEST(LayerDriverTest, LaterStagesSeeEarlierStagesProcessed) {
  for (bool true_sequential : {true, false}) {
    auto model = RandomModel(TinyConfig(Architecture::kLlama, false), 2);
    ScriptedMethod method;
    method.edit = [](int, const NamedLinear& linear) {
      if (absl::EndsWith(linear.name, "v_proj")) (*linear.slot)->mutable_dense_weight()->zero_();
    };
    LayerDriverOptions options;
    options.true_sequential = true_sequential;
    ASSERT_TRUE(RunLayerSequential(*model, RandomTokens(2, 8, 97), method, options).ok());
    const float o_input =
        method.inputs.at("model.layers.0.self_attn.o_proj").abs().max().item<float>();
    if (true_sequential) {
      EXPECT_EQ(o_input, 0.0f);
    } else {
      EXPECT_GT(o_input, 0.0f);
    }
  }
}

// Every linear of stage s sees what it would see in a plain RunBlock of the block with
// stages 0..s-1 processed and s.. not (so kept activations are never stale), for both
// architectures, with and without true-sequential (with and without the MLP activation
// kept), over uneven chunks; and the next block sees the output of the block with every
// stage processed.
TEST(LayerDriverTest, EachStageSeesThePlainForwardWithEarlierStagesProcessed) {
  auto round = [](const NamedLinear& linear) {
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    *w = at::round(*w * 4) / 4;  // a crude stand-in for quantization
  };
  const at::Tensor tokens = RandomTokens(5, 12, 97);
  for (Architecture arch : {Architecture::kLlama, Architecture::kPhi}) {
    for (auto [true_sequential, mlp_bytes] : {std::pair{true, int64_t{-1}}, std::pair{true, int64_t{0}}, std::pair{false, int64_t{-1}}}) {
      auto model = RandomModel(TinyConfig(arch, true), 3);
      ScriptedMethod method;
      method.edit = [&](int layer, const NamedLinear& linear) {
        if (layer == 0) round(linear);
      };
      LayerDriverOptions options;
      options.true_sequential = true_sequential;
      options.mlp_activation_bytes = mlp_bytes;
      options.batch_size = 2;
      ASSERT_TRUE(RunLayerSequential(*model, tokens, method, options).ok());

      auto reference = RandomModel(TinyConfig(arch, true), 3);
      const std::vector<std::vector<NamedLinear>> stages = BlockStages(*reference, 0, true_sequential);
      for (size_t s = 0; s < stages.size(); ++s) {
        if (s > 0) {
          for (const NamedLinear& linear : stages[s - 1]) round(linear);
        }
        std::vector<at::Tensor> seen(stages[s].size());
        for (size_t i = 0; i < stages[s].size(); ++i) {
          at::Tensor* into = &seen[i];
          *stages[s][i].slot = std::make_unique<WatchingLinear>(std::move(*stages[s][i].slot),
                                                                [into](const at::Tensor& x) { *into = x.clone(); });
        }
        ForwardContext ctx = reference->MakeContext(at::Tensor(), 5, 12, nullptr);
        reference->RunBlock(0, reference->Embed(tokens), ctx);
        for (size_t i = 0; i < stages[s].size(); ++i) {
          const at::Tensor& recorded = method.inputs.at(stages[s][i].name);
          EXPECT_TRUE(recorded.allclose(seen[i], 1e-5, 1e-5))
              << ArchitectureName(arch) << " true_sequential=" << true_sequential << " " << stages[s][i].name;
        }
        for (size_t i = 0; i < stages[s].size(); ++i) {
          *stages[s][i].slot = std::move(static_cast<WatchingLinear*>(stages[s][i].slot->get())->inner());
        }
      }
      // And block 1 is calibrated on block 0's output with all of its stages processed.
      for (const NamedLinear& linear : stages.back()) round(linear);
      ForwardContext ctx = reference->MakeContext(at::Tensor(), 5, 12, nullptr);
      at::Tensor block1 = reference->block(1).attn_norm.Forward(reference->RunBlock(0, reference->Embed(tokens), ctx));
      EXPECT_TRUE(method.inputs.at("model.layers.1.self_attn.q_proj").allclose(block1, 1e-5, 1e-5))
          << ArchitectureName(arch) << " true_sequential=" << true_sequential;
    }
  }
}

// Block 1 is calibrated on what the processed block 0 produces: its q_proj input equals
// input_layernorm(RunBlock(0, embed)) computed afterwards with the modified block 0, and
// differs from the same computed with the original block 0.
TEST(LayerDriverTest, NextBlockInputsComeFromTheProcessedBlock) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 3);
  auto original = RandomModel(TinyConfig(Architecture::kLlama, true), 3);
  at::Tensor tokens = RandomTokens(5, 12, 97);
  ScriptedMethod method;
  method.edit = [](int layer, const NamedLinear& linear) {
    if (layer != 0) return;
    at::Tensor* w = (*linear.slot)->mutable_dense_weight();
    *w = at::round(*w * 4) / 4;  // a crude stand-in for quantization
  };
  LayerDriverOptions options;
  options.batch_size = 2;  // chunks of 2, 2, 1 windows
  ASSERT_TRUE(RunLayerSequential(*model, tokens, method, options).ok());
  at::Tensor seen = method.inputs.at("model.layers.1.self_attn.q_proj");  // (5, 12, hidden)

  auto block1_input = [&](CausalLM& m) {
    ForwardContext ctx = m.MakeContext(at::Tensor(), 5, 12, nullptr);
    return m.block(1).attn_norm.Forward(m.RunBlock(0, m.Embed(tokens), ctx));
  };
  EXPECT_TRUE(seen.allclose(block1_input(*model), 1e-5, 1e-5));
  EXPECT_GT((seen - block1_input(*original)).abs().max().item<float>(), 1e-3);
}

TEST(LayerDriverTest, AMethodsErrorNamesTheLayer) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 4);
  ScriptedMethod method;
  method.fail_at_layer_1 = absl::InternalError("boom");
  absl::Status status = RunLayerSequential(*model, RandomTokens(2, 4, 97), method, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("layer 1"), std::string::npos);
  EXPECT_NE(status.message().find("boom"), std::string::npos);
}

// An exception in the middle of a pass (here from an observer) becomes a Status.
class ThrowingMethod : public ScriptedMethod {
 public:
  class Thrower : public InputObserver {
   public:
    void Observe(const at::Tensor&) override { throw std::runtime_error("observer exploded"); }
  };
  std::unique_ptr<InputObserver> NewObserver(const NamedLinear& linear,
                                             InputObserver* same_input) override {
    if (absl::EndsWith(linear.name, "up_proj")) return std::make_unique<Thrower>();
    return ScriptedMethod::NewObserver(linear, same_input);
  }
};

TEST(LayerDriverTest, AnExceptionInAPassBecomesAStatus) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 4);
  ThrowingMethod method;
  absl::Status status = RunLayerSequential(*model, RandomTokens(2, 4, 97), method, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("observer exploded"), std::string::npos);
}

TEST(LayerDriverTest, RejectsBadTokens) {
  auto model = RandomModel(TinyConfig(Architecture::kLlama, true), 4);
  ScriptedMethod method;
  EXPECT_FALSE(RunLayerSequential(*model, at::zeros({4}, at::kLong), method, {}).ok());
  LayerDriverOptions options;
  options.batch_size = 0;
  EXPECT_FALSE(RunLayerSequential(*model, RandomTokens(2, 4, 97), method, options).ok());
}

}  // namespace
}  // namespace llmq
