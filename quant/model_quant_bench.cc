// Whole quantized models against their float32 original, in the same run: the
// Llama-3.2-1B-shaped random model (model/bench_models.h) as float32, then quantized by
// each method the way a sweep's job quantizes it (the packed, FP8 and int8 layers and their
// kernels), prefill tokens/s over one prompt and decode tokens/s at batch 1, each as a
// ratio to the float32 model's (goal >= 1.0: a quantized model evaluates no slower than
// its original). Random weights: speed, not accuracy.
//
//   llmq_quant_model_bench [--layers 16] [--tokens 512] [--decode 16] [--threads 0] [--json]
//
// Methods: rtn w4 g128 and w3 g128 (packed, float16 scales: GPTQ and AWQ layers are the same
// layers), fp8 e4m3 per channel, int8 w8a8 (SmoothQuant's layers once smoothing is folded
// into the norms: LLM.int8's without outlier columns).
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/bench_report.h"
#include "common/cpu.h"
#include "model/bench_models.h"
#include "model/quantized_linear.h"
#include "model/runtime.h"
#include "quant/rtn.h"
#include "quant/w8_swap.h"

namespace llmq {
namespace {

struct Method {
  std::string name;
  std::function<absl::Status(CausalLM&)> quantize;  // null: the float32 model itself
};

std::vector<Method> Methods() {
  auto rtn = [](int bits) {
    return [bits](CausalLM& m) -> absl::Status {
      RtnOptions o;
      o.spec = {bits, 128, false, QuantizedLinear::kScaleDtype};
      return QuantizeModelRtn(m, o).status();
    };
  };
  return {
      {"fp32", nullptr},
      {"rtn_w4_g128", rtn(4)},
      {"rtn_w3_g128", rtn(3)},
      {"fp8_e4m3_channel",
       [](CausalLM& m) {
         Fp8Linear::Options o;
         o.per_channel = true;
         std::vector<LayerRecord> records;
         return QuantizeModelFp8(m, o, {}, &records);
       }},
      {"int8_w8a8",
       [](CausalLM& m) {
         std::vector<LayerRecord> records;  // a negative threshold: no outlier columns
         return QuantizeModelLlmInt8(m, -1, {}, &records);
       }},
  };
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  llmq::LimitOpenMpSpinning(argv);
  using namespace llmq;
  std::map<std::string, std::string> args = {{"layers", "16"}, {"tokens", "512"}, {"decode", "16"}, {"threads", "0"}};
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0 && args.count(argv[i] + 2)) {
      args[argv[i] + 2] = argv[i + 1];
      ++i;
    } else {
      std::fprintf(stderr, "llmq_quant_model_bench: unexpected argument %s (--layers --tokens --decode --threads --json)\n",
                   argv[i]);
      return 2;
    }
  }
  BenchReporter report(json);
  const int threads = ConfigureCpuRuntime(std::atoi(args["threads"].c_str()));
  const int layers = std::atoi(args["layers"].c_str());
  const int64_t tokens = std::atoll(args["tokens"].c_str()), steps = std::atoll(args["decode"].c_str());
  FitBlasThreadsToModel(Llama1BShape(layers).hidden_size, threads);
  report.Note(absl::StrFormat("llmq_quant_model_bench: Llama-3.2-1B shape, %d layers, float32 activations, "
                              "prefill %lld tokens, decode %lld steps, %d threads",
                              layers, (long long)tokens, (long long)steps, threads));
  at::manual_seed(1);
  const at::Tensor prompt = at::randint(3, Llama1BShape(layers).vocab_size, {1, tokens}, at::kLong);
  double base_prefill = 0, base_decode = 0;
  for (const Method& method : Methods()) {
    auto model = RandomLlama1B(layers, at::kFloat);
    if (!model.ok()) { std::fprintf(stderr, "%s\n", model.status().ToString().c_str()); return 1; }
    if (method.quantize) {
      if (absl::Status s = method.quantize(**model); !s.ok()) {
        std::fprintf(stderr, "%s: %s\n", method.name.c_str(), s.ToString().c_str());
        return 1;
      }
    }
    const double prefill = tokens / PrefillSeconds(**model, prompt);
    const double decode = DecodeTokensPerSecond(**model, prompt, steps);
    const bool base = !method.quantize;
    if (base) {
      base_prefill = prefill;
      base_decode = decode;
    }
    const std::string weights = absl::StrFormat("%.0f MB of weights", (*model)->WeightBytes() / 1e6);
    report.Add({"quant_model", absl::StrFormat("prefill_%s/tokens=%lld", method.name, (long long)tokens), prefill,
                "tokens/s", base ? weights : absl::StrFormat("fp32 %.1f tokens/s; %s", base_prefill, weights),
                prefill / base_prefill, base ? std::nullopt : std::optional<double>(1.0)});
    report.Add({"quant_model", absl::StrFormat("decode_%s/batch=1", method.name), decode, "tokens/s",
                base ? "itself" : absl::StrFormat("fp32 %.2f tokens/s", base_decode), decode / base_decode,
                base ? std::nullopt : std::optional<double>(1.0)});
  }
  return 0;
}
