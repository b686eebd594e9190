// GPTQ of one Llama-3.2-1B-shaped decoder layer under the layer driver, two ways in the same
// run: one Hessian per linear with the full xᵀx product (the previous path) and one
// Hessian per distinct input accumulated as its upper triangle (q/k/v share one, gate/up
// share one), each path twice, the faster run kept. Prints the FLOPs of each part, the time, the fraction of the fp32 GEMM rate
// measured here, the speed-up, and how many codes the two paths agree on.
//
//   llmq_gptq_layer_bench [--samples=16] [--seq=2048] [--threads=0] [--bits=4] [--group=128]
//                         [--shared-only]   (the per-input path alone: llmq's GPTQ as it runs)
//                         [--one-stage]     (true_sequential = false: all of a block's
//                                            linears from one pass, as llm-compressor does)
//                         [--recompute-mlp] (mlp_activation_bytes = 0: gate/up run again
//                                            for the block's output instead of keeping
//                                            down_proj's inputs, 1 GB here)
//
// The workload is 16 x 2048 calibration tokens; on a busy two-core machine
// scripts/bench runs it with --samples=4 (the FLOP shares do not depend on the count).
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/cpu.h"
#include "model/quantized_linear.h"
#include "model/runtime.h"
#include "model/transformer.h"
#include "quant/gptq.h"
#include "quant/layer_driver.h"
#include "quant/rtn.h"

namespace llmq {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Llama-3.2-1B's layer shape (config.json of meta-llama/Llama-3.2-1B), one layer, and a
// small vocabulary: the embedding and lm_head play no part in quantizing the layer.
ModelConfig OneLayerConfig() {
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.vocab_size = 1024;
  c.hidden_size = 2048;
  c.intermediate_size = 8192;
  c.num_layers = 1;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.max_position_embeddings = 131072;
  c.rope_theta = 500000.0;
  c.tie_word_embeddings = true;
  return c;
}

std::unique_ptr<CausalLM> RandomModel(const ModelConfig& c) {
  at::manual_seed(0);
  std::map<std::string, std::vector<int64_t>> shapes;
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  const std::string p = "model.layers.0.";
  shapes["model.embed_tokens.weight"] = {c.vocab_size, h};
  shapes[p + "self_attn.q_proj.weight"] = {q, h};
  shapes[p + "self_attn.k_proj.weight"] = {kv, h};
  shapes[p + "self_attn.v_proj.weight"] = {kv, h};
  shapes[p + "self_attn.o_proj.weight"] = {h, q};
  shapes[p + "mlp.gate_proj.weight"] = {ff, h};
  shapes[p + "mlp.up_proj.weight"] = {ff, h};
  shapes[p + "mlp.down_proj.weight"] = {h, ff};
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : shapes) weights[name] = at::randn(shape) * 0.02;
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    auto it = weights.find(name);
    if (it != weights.end()) return it->second;
    if (name.find("norm.weight") != std::string::npos) return at::ones({h});
    return absl::NotFoundError(name);
  };
  auto model = CausalLM::Create(c, lookup, at::kFloat, at::kCPU);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*model);
}

double GptqUpdateFlops(int64_t out, int64_t in, int64_t block) {
  double flops = 0;
  for (int64_t i1 = 0; i1 < in; i1 += block) {
    const int64_t count = std::min(block, in - i1), rest = in - i1 - count;
    flops += 2.0 * out * count * rest;                                    // lazy update
    flops += 2.0 * out * (static_cast<double>(count) * (count - 1) / 2);  // in-block updates
  }
  return flops;
}

struct PathResult {
  double seconds = 0, gptq_seconds = 0;
  double hessian_flops = 0, update_flops = 0;
  int hessians = 0;
  std::map<std::string, at::Tensor> codes;
  std::string per_linear;  // GPTQ's time per linear
};

PathResult RunPath(const at::Tensor& tokens, const GptqOptions& options, bool shared,
                   bool true_sequential, int64_t mlp_activation_bytes) {
  auto model = RandomModel(OneLayerConfig());
  PathResult r;
  GptqHessianOptions hessian;
  hessian.share = shared;
  hessian.symmetric = shared;
  std::vector<LayerRecord> records;
  auto install = [&](const NamedLinear& linear, const GroupQuantized& q) {
    r.codes[linear.name] = q.codes;
    return ReplaceWithQuantized(linear, q, at::kFloat);
  };
  // The Hessians each path forms, from the stages' shared inputs.
  const int64_t n = tokens.numel();
  for (const std::vector<NamedLinear>& stage : BlockStages(*model, 0, true_sequential)) {
    const std::vector<size_t> first = SameInputAs(*model, 0, stage);
    for (size_t i = 0; i < stage.size(); ++i) {
      const int64_t in = (*stage[i].slot)->in_features(), out = (*stage[i].slot)->out_features();
      r.update_flops += GptqUpdateFlops(out, in, options.block_size);
      if (shared && first[i] != i) continue;
      ++r.hessians;
      r.hessian_flops += HessianAccumulator::AddFlops(n, in, shared);
    }
  }
  auto method = MakeGptqMethod(options, nullptr, install, &records, hessian);
  LayerDriverOptions driver;
  driver.batch_size = 4;
  driver.true_sequential = true_sequential;
  driver.mlp_activation_bytes = mlp_activation_bytes;
  const auto start = Clock::now();
  absl::Status status = RunLayerSequential(*model, tokens, *method, driver);
  r.seconds = Seconds(start);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
  for (const LayerRecord& record : records) {
    r.gptq_seconds += record.seconds;
    r.per_linear += absl::StrFormat("    %-28s %6.2f s (factor %5.2f s, columns %5.2f s)\n", record.name,
                                    record.seconds, record.stats.at("factor_seconds"),
                                    record.stats.at("columns_seconds"));
  }
  return r;
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  using namespace llmq;
  int threads = 0, bits = 4;
  int64_t samples = 16, seq = 2048, group = 128;
  bool shared_only = false, true_sequential = true;
  int64_t mlp_activation_bytes = -1;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return std::strncmp(argv[i], flag, n) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--threads=")) threads = std::atoi(v);
    else if (const char* v = value("--samples=")) samples = std::atoll(v);
    else if (const char* v = value("--seq=")) seq = std::atoll(v);
    else if (const char* v = value("--bits=")) bits = std::atoi(v);
    else if (const char* v = value("--group=")) group = std::atoll(v);
    else if (std::strcmp(argv[i], "--shared-only") == 0) shared_only = true;
    else if (std::strcmp(argv[i], "--one-stage") == 0) true_sequential = false;
    else if (std::strcmp(argv[i], "--recompute-mlp") == 0) mlp_activation_bytes = 0;
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  threads = ConfigureCpuRuntime(threads);
  const ModelConfig c = OneLayerConfig();
  std::printf("gptq layer bench: one Llama-3.2-1B-shaped layer, %lld x %lld calibration tokens, "
              "%d-bit g%lld, %d threads\n",
              (long long)samples, (long long)seq, bits, (long long)group, threads);

  // Baseline: fp32 GEMM on the Hessian's shape, best of 7 (best of 3 read low when busy).
  at::Tensor a = at::randn({c.hidden_size, seq}), b = at::randn({seq, c.hidden_size});
  at::matmul(a, b);
  double best = 1e30;
  for (int r = 0; r < 7; ++r) {
    const auto start = Clock::now();
    at::matmul(a, b);
    best = std::min(best, Seconds(start));
  }
  const double rate = 2.0 * c.hidden_size * seq * c.hidden_size / best;
  std::printf("baseline: fp32 at::matmul (%lld x %lld)·(%lld x %lld) %.1f GFLOP/s\n",
              (long long)c.hidden_size, (long long)seq, (long long)seq, (long long)c.hidden_size,
              rate / 1e9);

  at::manual_seed(1);
  at::Tensor tokens = at::randint(c.vocab_size, {samples, seq}, at::kLong);
  GptqOptions options;
  options.spec = {bits, group, false, QuantizedLinear::kScaleDtype};

  // Forward FLOPs of the driver's passes (the counts LayerDriverTest.
  // KeptActivationsAreNotRecomputed checks): true-sequential runs every linear and the
  // attention once, gate/up twice where their product is not kept; one stage runs every
  // linear but down_proj twice and the attention twice. Linears 2·params per token,
  // attention 4·heads·head_dim·seq² per sample.
  auto model = RandomModel(c);
  LayerDriverOptions driver;
  driver.true_sequential = true_sequential;
  driver.mlp_activation_bytes = mlp_activation_bytes;
  const bool kept = KeepsMlpActivation(*model, 0, tokens, driver);
  std::printf("driver: %s, down_proj's inputs %s\n", true_sequential ? "true-sequential" : "one stage",
              kept ? "kept" : "computed again for the output");
  const double n = static_cast<double>(samples * seq);
  const double attention = 4.0 * c.num_heads * c.head_dim * seq * n;
  DecoderBlock& block = model->block(0);
  double forward_flops = (true_sequential ? 1 : 2) * attention;
  const std::vector<NamedLinear> linears = BlockStages(*model, 0, false)[0];
  for (const NamedLinear& l : linears) {
    const bool twice = ((l.slot == &block.gate_proj || l.slot == &block.up_proj) && !kept) ||
                       (!true_sequential && l.slot != &block.down_proj);
    forward_flops += (twice ? 2.0 : 1.0) * 2.0 * static_cast<double>((*l.slot)->ParameterCount()) * n;
  }
  model.reset();

  auto report = [&](const char* what, const PathResult& r) {
    const double flops = r.hessian_flops + r.update_flops + forward_flops;
    std::printf(
        "  %-30s %7.2f s (gptq %6.2f s, passes+hessians %6.2f s)  %d Hessians %7.1f GFLOP, "
        "updates %6.1f GFLOP, forwards %6.1f GFLOP = %5.1f %% of GEMM rate\n",
        what, r.seconds, r.gptq_seconds, r.seconds - r.gptq_seconds, r.hessians,
        r.hessian_flops / 1e9, r.update_flops / 1e9, forward_flops / 1e9,
        100.0 * flops / rate / r.seconds);
  };
  PathResult shared = RunPath(tokens, options, /*shared=*/true, true_sequential, mlp_activation_bytes);
  // Tensors above 32 MiB come from mappings the allocator keeps (model/runtime.h): how
  // many it had to map (each zeroed by the kernel on first touch) and how often it reused one.
  auto blocks = [] {
    const CpuBlockCache b = CpuBlockCacheState();
    std::printf("  tensor blocks above 32 MiB: %lld mapped, %lld reused\n",
                static_cast<long long>(b.mappings), static_cast<long long>(b.reuses));
  };
  if (shared_only) {
    report("per input, upper triangle", shared);
    std::printf("%s", shared.per_linear.c_str());
    blocks();
    return 0;
  }
  // A process's first path maps and first-touches the allocator's large blocks and ran
  // ~25 % slower here (11.5 s against 15.0 s for the same per-input path), so the paths run
  // twice, per input / per linear / per linear / per input, and each keeps its faster run.
  PathResult per_linear = RunPath(tokens, options, /*shared=*/false, true_sequential, mlp_activation_bytes);
  for (const bool path_shared : {false, true}) {
    PathResult again = RunPath(tokens, options, path_shared, true_sequential, mlp_activation_bytes);
    PathResult& best = path_shared ? shared : per_linear;
    if (again.seconds < best.seconds) best = std::move(again);
  }
  report("per linear, full xᵀx", per_linear);
  report("per input, upper triangle", shared);
  int64_t equal = 0, total = 0;
  for (const auto& [name, codes] : per_linear.codes) {
    equal += codes.eq(shared.codes.at(name)).sum().item<int64_t>();
    total += codes.numel();
  }
  blocks();
  std::printf("speed-up per input / per linear: %.2fx (Hessian FLOPs %.2fx fewer); "
              "codes equal: %.4f %%\n",
              per_linear.seconds / shared.seconds, per_linear.hessian_flops / shared.hessian_flops,
              100.0 * static_cast<double>(equal) / static_cast<double>(total));
  return 0;
}
