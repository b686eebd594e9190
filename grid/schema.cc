// The table of methods, tasks and calibration parameters. Edit here when a method or task
// gains a parameter; if an existing default changes, bump kResultVersion (common/version.h)
// so keys computed with the old default are not reused.
#include "grid/schema.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/corpus.h"
#include "grid/overrides.h"
#include "grid/values.h"

namespace llmq {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

GridParamSchema Int(const char* name, int64_t min, int64_t max, const char* value,
                    const char* doc) {
  GridParamSchema p;
  p.name = name;
  p.type = GridParamType::kInt;
  p.min_int = min;
  p.max_int = max;
  p.default_value = value;
  p.doc = doc;
  return p;
}

GridParamSchema Float(const char* name, double min, double max, const char* value,
                      const char* doc) {
  GridParamSchema p;
  p.name = name;
  p.type = GridParamType::kFloat;
  p.min_float = min;
  p.max_float = max;
  p.default_value = value;
  p.doc = doc;
  return p;
}

GridParamSchema Bool(const char* name, bool value, const char* doc) {
  GridParamSchema p;
  p.name = name;
  p.type = GridParamType::kBool;
  p.default_value = CanonicalBool(value);
  p.doc = doc;
  return p;
}

GridParamSchema Choice(const char* name, std::vector<std::string> choices, const char* value,
                       const char* doc) {
  GridParamSchema p;
  p.name = name;
  p.type = GridParamType::kChoice;
  p.choices = std::move(choices);
  p.default_value = value;
  p.doc = doc;
  return p;
}

GridParamSchema Typed(const char* name, GridParamType type, const char* value,
                      const char* doc) {
  GridParamSchema p;
  p.name = name;
  p.type = type;
  p.default_value = value;
  p.doc = doc;
  return p;
}

GridParamSchema Required(GridParamSchema p) {
  p.has_default = false;
  p.default_value.clear();
  return p;
}

GridParamSchema Derived(GridParamSchema p) {
  p.has_default = false;
  p.derived = true;
  p.default_value.clear();
  return p;
}

GridParamSchema NoEffect(GridParamSchema p) {
  p.affects_result = false;
  return p;
}

GridParamSchema Bits(const char* value) {
  return Int("bits", 2, 8, value, "bits per weight");
}

GridParamSchema GroupSize(const char* value) {
  GridParamSchema p = Int("group_size", 1, 1 << 20, value,
                          "input columns per group; a shorter last group is allowed");
  p.minus_one_means = "whole row";
  return p;
}

GridParamSchema Sym() {
  return Bool("sym", false, "symmetric grid (zero point at the middle)");
}

GridParamSchema Keep() {
  return Typed("keep", GridParamType::kPatternList, "",
               "module-name patterns kept in 16 bit, one string: \"lm_head,model.layers.0.*\"");
}

GridParamSchema Overrides() {
  GridParamSchema p = Typed("overrides", GridParamType::kOverrides, "",
                            "per-layer precision: a list of {pattern, bits, group_size, method} "
                            "or {pattern, keep: true}; the first matching pattern wins");
  p.keyed_only_when_set = true;
  return p;
}

GridParamSchema Limit(const char* doc) { return Int("limit", 0, kMaxInt, "0", doc); }
GridParamSchema Seed() {
  return Int("seed", 0, kMaxInt, "1234", "seed of the subsample drawn when limit > 0");
}
GridParamSchema BatchSize(const char* value = "8") {
  return NoEffect(Int("batch_size", 1, 1 << 16, value, "sequences per forward pass"));
}
GridParamSchema Subsample() {
  return Choice("subsample", {"shuffle", "first"}, "shuffle",
                "which `limit` examples: a seeded shuffle, or the first in file order "
                "(lm-eval's --limit)");
}
// lm-eval-harness 0.4 encodes requests with the tokenizer's special tokens when its
// add_bos_token is set (Llama's is): without BOS, log-likelihoods on a Llama-style model
// differ by up to a nat. true follows the tokenizer's own rule (BOS for Llama / llama2.c,
// nothing for GPT-2 / Phi / Qwen-style tokenizers).
GridParamSchema Bos() {
  return Bool("bos", true,
              "encode with the tokenizer's special tokens (BOS where its configuration adds "
              "one), as lm-eval-harness 0.4 does");
}
// A file the task reads; empty = the copy bundled under assets/data.
GridParamSchema DataFile(const char* name, const char* doc) {
  return Typed(name, GridParamType::kPath, "", doc);
}
// What every accuracy task reads besides its own parameters (eval/task_common.h).
std::vector<GridParamSchema> AccuracyParams(const char* limit_doc,
                                            std::vector<GridParamSchema> own) {
  std::vector<GridParamSchema> params = {Limit(limit_doc), Subsample(), Seed(), Bos(),
                                         BatchSize()};
  params.insert(params.end(), own.begin(), own.end());
  return params;
}

// One transformer block quantized, the others left in float: what a sensitivity scan's
// jobs differ in.
GridParamSchema Block() {
  GridParamSchema p = Int("block", 0, 1 << 20, "-1",
                          "quantize only this transformer block (0-based); the others stay in "
                          "float");
  p.minus_one_means = "every block";
  p.keyed_only_when_set = true;
  return p;
}

// Not a parameter of one job: `scan: layers` expands the entry into one job per block of
// each model (block: 0 .. n-1), read from the model's files at submission.
GridParamSchema Scan() {
  return NoEffect(Choice("scan", {"none", "layers"}, "none",
                         "layers: one job per transformer block, only that block quantized "
                         "(a sensitivity scan)"));
}

GridEntrySchema Method(const char* name, bool calibrates, const char* doc,
                       std::vector<GridParamSchema> params) {
  GridEntrySchema method{name, calibrates, doc, std::move(params)};
  if (method.name != "none") {
    method.params.push_back(Keep());
    method.params.push_back(Overrides());
    method.params.push_back(Block());
    method.params.push_back(Scan());
  }
  return method;
}

std::vector<GridEntrySchema> MakeMethods() {
  std::vector<GridEntrySchema> methods;
  methods.push_back(Method("none", false, "the unquantized baseline", {}));
  methods.push_back(Method("rtn", false, "round-to-nearest, group-wise",
                           {Bits("4"), GroupSize("128"), Sym()}));
  methods.push_back(Method(
      "gptq", true, "GPTQ: error-compensating, Hessian from calibration",
      {Bits("4"), GroupSize("128"), Sym(),
       Float("damp", 0, 1, "0.01", "dampening, a fraction of mean(diag H)"),
       Bool("act_order", false, "columns by decreasing diag(H)"),
       Bool("static_groups", false, "group parameters computed up front (with act_order)"),
       Bool("true_sequential", true, "attention before MLP within a layer"),
       Int("block_size", 1, 1 << 20, "128", "columns per lazy-update block")}));
  for (const char* name : {"awq", "gsq"}) {
    methods.push_back(Method(
        name, true,
        "activation-aware per-channel scaling before group quantization (gsq: the seed "
        "paper's name)",
        {Bits("4"), GroupSize("128"), Sym(),
         Int("grid", 1, 1000, "20", "points of the alpha search in [0,1)"),
         Bool("clip", true, "search a clipping range after scaling")}));
  }
  methods.push_back(Method(
      "smoothquant", true, "SmoothQuant: migrate activation outliers into weights, WxAy",
      {Float("alpha", 0, 1, "0.5", "migration strength"),
       Int("w_bits", 2, 8, "8", "weight bits"), Int("a_bits", 2, 8, "8", "activation bits")}));
  methods.push_back(Method("fp8", false, "FP8 weights (E4M3 or E5M2), optionally fp8 activations",
                           {Choice("granularity", {"tensor", "channel"}, "tensor",
                                   "one scale per tensor or per output channel"),
                            Choice("format", {"e4m3", "e5m2"}, "e4m3", "the 8-bit float format"),
                            Bool("activations", false,
                                 "also round activations to fp8, per token (fake-quantized)")}));
  methods.push_back(Method(
      "llm_int8", false, "LLM.int8(): int8 with fp16 outlier columns",
      {Float("threshold", 0, 1e6, "6", "activation magnitude that makes a column an outlier")}));
  methods.push_back(Method(
      "spqr", true, "SpQR: small groups, quantized scales, sparse fp16 outliers",
      {Bits("3"), GroupSize("16"),
       Float("outlier_threshold", 0, 1e6, "0.2", "relative error that makes a weight an outlier"),
       Int("scale_bits", 2, 8, "3", "bits of the quantized scales and zeros")}));
  return methods;
}

std::vector<GridEntrySchema> MakeTasks() {
  std::vector<GridEntrySchema> tasks;
  tasks.push_back({"ppl", false, "perplexity over a text",
                   {Typed("dataset", GridParamType::kDataset, "wikitext2",
                          "wikitext2 | tinystories | c4 | a path"),
                    Derived(Choice("format", {"text", "paragraphs", "jsonl"}, "",
                                   "text: one stream; paragraphs: split at blank lines; "
                                   "jsonl: one document per line (default per dataset)")),
                    Typed("field", GridParamType::kString, "text", "JSONL field (jsonl only)"),
                    Choice("protocol", {"windows", "rolling"}, "windows",
                           "non-overlapping windows (GPTQ) | rolling windows (lm-eval)"),
                    Int("context", 2, 1 << 24, "2048", "tokens per window"),
                    Derived(Int("stride", 1, 1 << 24, "",
                                "rolling only: tokens the window advances (default context/2)")),
                    Bool("bos", true, "a BOS token starts each paragraph or document"),
                    Limit("windows evaluated, 0 = all"), BatchSize("1")}});
  tasks.push_back({"boolq", false, "BoolQ yes/no accuracy",
                   AccuracyParams("questions, 0 = all",
                                  {DataFile("dataset", "BoolQ JSONL; empty = the bundled dev set")})});
  tasks.push_back(
      {"gsm8k", false, "GSM8K exact match, greedy generation",
       AccuracyParams(
           "problems, 0 = all",
           {Bool("cot", false, "chain of thought: the 8 fixed exemplars of Wei et al. 2022"),
            Derived(Int("n_shot", 0, 64, "",
                        "few-shot exemplars: 5 drawn from train, or with cot the first n of "
                        "the 8 fixed ones (default 8)")),
            Derived(Int("fewshot_seed", 0, kMaxInt, "",
                        "seed of the exemplars drawn from train (default: seed)")),
            Int("max_new_tokens", 1, 1 << 20, "256", "generation budget per problem"),
            Bool("stop_at_blank_line", true, "a blank line ends the answer"),
            DataFile("dataset", "GSM8K test JSONL; empty = the bundled test set"),
            DataFile("train", "GSM8K train JSONL (exemplars); empty = the bundled train set")})});
  tasks.push_back(
      {"msmarco", false, "MS MARCO passage re-ranking, MRR@10 and NDCG@10",
       AccuracyParams(
           "queries, 0 = all",
           {Int("max_passages", 0, kMaxInt, "0", "candidates per query, 0 = all"),
            Int("k", 1, 1 << 20, "10", "cut-off of MRR@k and NDCG@k"),
            Int("mrr_min_grade", 1, 1 << 20, "2", "smallest qrels grade that counts as relevant "
                                                   "for MRR (TREC DL: 2)"),
            DataFile("dataset", "a BEIR-style directory (corpus.jsonl, queries.jsonl, qrels/); "
                                "empty = the bundled TREC DL19 subset"),
            DataFile("qrels", "qrels TSV; empty = <dataset>/qrels/test.tsv")})});
  tasks.push_back({"mc", false, "generic multiple choice from a JSONL file",
                   AccuracyParams("questions, 0 = all",
                                  {Required(Typed("dataset", GridParamType::kPath, "",
                                                  "a JSONL path")),
                                   Typed("target_delimiter", GridParamType::kString, " ",
                                         "text between the question and each choice")})});
  tasks.push_back({"efficiency", false, "latency, throughput and memory probes",
                   {Typed("prompt_lengths", GridParamType::kIntList, "128,512,2048",
                          "prompt lengths measured, one string"),
                    Int("decode_tokens", 2, 1 << 20, "64", "tokens generated per measurement"),
                    Typed("batch_sizes", GridParamType::kIntList, "1,8",
                          "batch sizes measured, one string"),
                    Int("repeats", 1, 1000, "3", "timed repetitions of each probe")}});
  return tasks;
}

GridEntrySchema MakeCalibration() {
  return {"calibration", false, "calibration samples for methods that calibrate",
          {Typed("dataset", GridParamType::kDataset, "c4", "c4 | wikitext2 | tinystories | a path"),
           Int("samples", 1, 1 << 24, "128", "number of sequences"),
           Int("seq_len", 1, 1 << 24, "2048", "tokens per sequence"),
           Int("seed", 0, kMaxInt, "0", "seed of the sample draw"),
           Choice("mode", {"random", "first"}, "random",
                  "random windows (GPTQ style) | the first documents")}};
}

const GridEntrySchema* FindEntry(const std::vector<GridEntrySchema>& entries,
                                 absl::string_view name) {
  for (const GridEntrySchema& entry : entries) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::vector<std::string> Names(const std::vector<GridEntrySchema>& entries) {
  std::vector<std::string> names;
  for (const GridEntrySchema& entry : entries) names.push_back(entry.name);
  return names;
}

}  // namespace

const GridParamSchema* GridEntrySchema::FindParam(absl::string_view param) const {
  for (const GridParamSchema& p : params) {
    if (p.name == param) return &p;
  }
  return nullptr;
}

std::vector<std::string> GridEntrySchema::ParamNames() const {
  std::vector<std::string> names;
  for (const GridParamSchema& p : params) names.push_back(p.name);
  return names;
}

const std::vector<GridEntrySchema>& GridMethodSchemas() {
  static const auto* methods = new std::vector<GridEntrySchema>(MakeMethods());
  return *methods;
}

const std::vector<GridEntrySchema>& GridTaskSchemas() {
  static const auto* tasks = new std::vector<GridEntrySchema>(MakeTasks());
  return *tasks;
}

const GridEntrySchema& GridCalibrationSchema() {
  static const auto* calibration = new GridEntrySchema(MakeCalibration());
  return *calibration;
}

const GridEntrySchema* FindGridMethod(absl::string_view name) {
  return FindEntry(GridMethodSchemas(), name);
}

const GridEntrySchema* FindGridTask(absl::string_view name) {
  return FindEntry(GridTaskSchemas(), name);
}

std::vector<std::string> GridMethodNames() { return Names(GridMethodSchemas()); }
std::vector<std::string> GridTaskNames() { return Names(GridTaskSchemas()); }

const std::vector<std::string>& BundledDatasets() {
  static const auto* names = new std::vector<std::string>{"wikitext2", "tinystories", "c4"};
  return *names;
}

bool IsBundledDataset(absl::string_view value) {
  for (const std::string& name : BundledDatasets()) {
    if (name == value) return true;
  }
  return false;
}

absl::Status FinishTaskParams(absl::string_view task,
                              std::map<std::string, std::string>* params) {
  std::map<std::string, std::string>& p = *params;
  if (task == "gsm8k") {
    // Chain of thought uses the 8 fixed exemplars of its paper; without it, lm-eval's 5
    // drawn from train.
    if (p.count("n_shot") == 0) p["n_shot"] = p["cot"] == "true" ? "8" : "5";
    if (p.count("fewshot_seed") == 0) p["fewshot_seed"] = p["seed"];
    if (p["cot"] == "true" && ParseGridInt(p["n_shot"]).value_or(0) > 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("n_shot ", p["n_shot"], " exceeds the 8 chain-of-thought exemplars"));
    }
    return absl::OkStatus();
  }
  if (task != "ppl") return absl::OkStatus();
  if (p.count("format") == 0) p["format"] = DefaultCorpusFormat(p["dataset"]);
  if (p["format"] != "jsonl") p.erase("field");
  if (p["protocol"] != "rolling") {
    p.erase("stride");
    return absl::OkStatus();
  }
  const int64_t context = ParseGridInt(p["context"]).value_or(0);
  if (p.count("stride") == 0) p["stride"] = absl::StrCat(std::max<int64_t>(1, context / 2));
  const int64_t stride = ParseGridInt(p["stride"]).value_or(0);
  if (stride > context) {
    return absl::InvalidArgumentError(
        absl::StrCat("stride ", stride, " exceeds context ", context));
  }
  return absl::OkStatus();
}

}  // namespace llmq

// Checks parameter values against the schema table (above) and writes them in
// canonical form.
namespace llmq {
namespace {

std::string IntRange(const GridParamSchema& p) {
  if (p.max_int == std::numeric_limits<int64_t>::max()) {
    return absl::StrCat("an integer >= ", p.min_int);
  }
  return absl::StrCat("an integer in ", p.min_int, "..", p.max_int);
}

std::string Expectation(const GridParamSchema& p) {
  switch (p.type) {
    case GridParamType::kInt:
      if (!p.minus_one_means.empty()) {
        return absl::StrCat("-1 (", p.minus_one_means, ") or ", IntRange(p));
      }
      return IntRange(p);
    case GridParamType::kFloat:
      return absl::StrCat("a number in ", CanonicalFloat(p.min_float), "..",
                          CanonicalFloat(p.max_float));
    case GridParamType::kBool:
      return "true or false";
    case GridParamType::kChoice:
      return absl::StrCat("one of ", absl::StrJoin(p.choices, ", "));
    case GridParamType::kString:
      return "text";
    case GridParamType::kDataset:
      return absl::StrCat(absl::StrJoin(BundledDatasets(), ", "),
                          " or a path (containing / or a file extension)");
    case GridParamType::kPath:
      return "a path";
    case GridParamType::kIntList:
      return "comma-separated positive integers in one string, like \"128,512\"";
    case GridParamType::kPatternList:
      return "comma-separated module-name patterns in one string, like \"lm_head,model.*\"";
    case GridParamType::kOverrides:
      return "a list of {pattern, bits, group_size, method} or {pattern, keep: true}";
  }
  return "a value";
}

absl::Status Invalid(const GridParamSchema& p, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(p.name, ": expected ", Expectation(p), ", got \"", text, "\""));
}

bool LooksLikePath(absl::string_view value) {
  return value.find('/') != absl::string_view::npos || value.find('.') != absl::string_view::npos;
}

absl::StatusOr<std::string> ResolvePath(const GridParamSchema& p, absl::string_view grid_file,
                                        absl::string_view text) {
  absl::StatusOr<std::string> path = ResolveGridPath(grid_file, text);
  if (!path.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(p.name, ": ", path.status().message()));
  }
  return path;
}

}  // namespace

absl::StatusOr<std::string> CanonicalDtype(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "float32" || lower == "fp32" || lower == "f32") return std::string("float32");
  if (lower == "bfloat16" || lower == "bf16") return std::string("bfloat16");
  if (lower == "float16" || lower == "fp16" || lower == "f16" || lower == "half") {
    return std::string("float16");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dtype: expected float32, bfloat16 or float16, got \"", text, "\""));
}

absl::StatusOr<std::string> CanonicalParamValue(const GridParamSchema& p,
                                                absl::string_view text,
                                                absl::string_view grid_file) {
  switch (p.type) {
    case GridParamType::kInt: {
      absl::StatusOr<int64_t> value = ParseGridInt(text);
      if (!value.ok()) return Invalid(p, text);
      const bool minus_one = *value == -1 && !p.minus_one_means.empty();
      if (!minus_one && (*value < p.min_int || *value > p.max_int)) return Invalid(p, text);
      return absl::StrCat(*value);
    }
    case GridParamType::kFloat: {
      absl::StatusOr<double> value = ParseGridFloat(text);
      if (!value.ok() || *value < p.min_float || *value > p.max_float) return Invalid(p, text);
      return CanonicalFloat(*value);
    }
    case GridParamType::kBool: {
      absl::StatusOr<bool> value = ParseGridBool(text);
      if (!value.ok()) return Invalid(p, text);
      return CanonicalBool(*value);
    }
    case GridParamType::kChoice:
      for (const std::string& choice : p.choices) {
        if (choice == text) return choice;
      }
      return Invalid(p, text);
    case GridParamType::kString:
      return std::string(text);
    case GridParamType::kDataset:
      if (IsBundledDataset(text)) return std::string(text);
      if (!LooksLikePath(text)) return Invalid(p, text);
      return ResolvePath(p, grid_file, text);
    case GridParamType::kPath:
      // An optional file whose default, "", means the copy bundled under assets/data.
      if (text.empty() && p.has_default && p.default_value.empty()) return std::string();
      return ResolvePath(p, grid_file, text);
    case GridParamType::kIntList: {
      absl::StatusOr<std::string> value = CanonicalIntList(text);
      if (!value.ok()) return Invalid(p, text);
      return value;
    }
    case GridParamType::kPatternList: {
      absl::StatusOr<std::string> value = CanonicalPatternList(text);
      if (!value.ok()) return Invalid(p, text);
      return value;
    }
    case GridParamType::kOverrides: {
      absl::StatusOr<std::vector<LayerOverride>> value = ParseLayerOverrides(text);
      if (!value.ok()) return value.status();
      return FormatLayerOverrides(*value);
    }
  }
  return Invalid(p, text);
}

std::string DescribeParam(const GridParamSchema& p) {
  std::string text = absl::StrCat(p.name, " (", Expectation(p));
  if (p.has_default) {
    absl::StrAppend(&text, ", default ",
                    p.default_value.empty() ? "\"\"" : p.default_value);
  } else if (!p.derived) {
    absl::StrAppend(&text, ", required");
  }
  absl::StrAppend(&text, ")");
  return text;
}

absl::StatusOr<std::map<std::string, std::string>> CompleteParams(
    const GridEntrySchema& entry, const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : given) {
    const GridParamSchema* param = entry.FindParam(name);
    if (param == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(entry.name, " has no parameter ", name));
    }
    // An empty grid file name leaves resolved paths as they are (only normalized).
    absl::StatusOr<std::string> canonical = CanonicalParamValue(*param, value, "");
    if (!canonical.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry.name, ": ", canonical.status().message()));
    }
    params[name] = *std::move(canonical);
  }
  for (const GridParamSchema& param : entry.params) {
    if (params.count(param.name) != 0 || param.derived) continue;
    if (!param.has_default) {
      return absl::InvalidArgumentError(absl::StrCat(
          entry.name, ": ", param.name, " is required (", param.doc, ")"));
    }
    params[param.name] = param.default_value;
  }
  absl::Status finished = FinishTaskParams(entry.name, &params);
  if (!finished.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(entry.name, ": ", finished.message()));
  }
  return params;
}

bool IsFileValue(const GridParamSchema& p, absl::string_view canonical_value) {
  if (p.type == GridParamType::kPath) return !canonical_value.empty();
  return p.type == GridParamType::kDataset && !IsBundledDataset(canonical_value);
}

}  // namespace llmq
