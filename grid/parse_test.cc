
#include "gtest/gtest.h"
#include "grid/grid.h"
#include "grid/test_util.h"

namespace llmq {
namespace {

using testing_util::MustParse;

TEST(GridParseTest, ReadsEveryTopLevelField) {
  const Grid grid = MustParse(R"(
name: study
models:
  - name: tiny
    path: models/tiny
    dtype: bf16
methods:
  - name: rtn
    bits: [4, 3]
calibration: {dataset: wikitext2, samples: 16, seq_len: 256, seed: 7, mode: first}
tasks:
  - name: ppl
    context: 512
include:
  - {method: rtn}
exclude:
  - {bits: 3, task: ppl}
repeats: 2
timeout: 1h30m
max_attempts: 5
priority: 10
resources: {device: cuda, memory: 2GiB}
)");
  EXPECT_EQ(grid.name, "study");
  ASSERT_EQ(grid.models.size(), 1u);
  EXPECT_EQ(grid.models[0].alias, "tiny");
  EXPECT_EQ(grid.models[0].path, "models/tiny");
  EXPECT_EQ(grid.models[0].dtypes, std::vector<std::string>{"bfloat16"});
  ASSERT_EQ(grid.methods.size(), 1u);
  ASSERT_EQ(grid.methods[0].axes.size(), 1u);
  EXPECT_EQ(grid.methods[0].axes[0].param, "bits");
  EXPECT_EQ(grid.methods[0].axes[0].values, (std::vector<std::string>{"4", "3"}));
  EXPECT_EQ(grid.methods[0].axes[0].where.line, 9);
  EXPECT_EQ(grid.calibration.axes.size(), 5u);
  EXPECT_EQ(grid.include.size(), 1u);
  EXPECT_EQ(grid.exclude.size(), 1u);
  EXPECT_EQ(grid.repeats, 2);
  EXPECT_EQ(grid.timeout_seconds, 5400);
  EXPECT_EQ(grid.max_attempts, 5);
  EXPECT_EQ(grid.priority, 10);
  EXPECT_EQ(grid.device, "cuda");
  EXPECT_EQ(grid.memory_bytes, 2LL << 30);
}

TEST(GridParseTest, ShorthandsAndDefaults) {
  const Grid grid = MustParse(R"(
models: [models/llama-7b, models/stories260K.bin]
tasks: [ppl, boolq]
)", "sweeps/baseline.yaml");
  EXPECT_EQ(grid.name, "baseline");  // the file name without extension
  ASSERT_EQ(grid.models.size(), 2u);
  EXPECT_EQ(grid.models[0].alias, "llama-7b");
  EXPECT_EQ(grid.models[0].path, "sweeps/models/llama-7b");
  EXPECT_EQ(grid.models[1].alias, "stories260K");
  EXPECT_EQ(grid.models[0].dtypes, std::vector<std::string>{"float32"});
  ASSERT_EQ(grid.methods.size(), 1u);  // no methods: the unquantized baseline
  EXPECT_EQ(grid.methods[0].name, "none");
  EXPECT_EQ(grid.tasks.size(), 2u);
  EXPECT_EQ(grid.repeats, 1);
  EXPECT_EQ(grid.max_attempts, 3);
  EXPECT_EQ(grid.timeout_seconds, 0);
  EXPECT_EQ(grid.device, "any");
}

TEST(GridParseTest, ValuesAreCanonical) {
  const Grid grid = MustParse(R"(
models: [m/x]
methods:
  - name: gptq
    damp: [0.010, 1e-1]
    sym: yes
    keep: "model.layers.0.*, lm_head"
tasks:
  - name: efficiency
    prompt_lengths: "512,128"
)");
  const GridEntry& gptq = grid.methods[0];
  EXPECT_EQ(gptq.axes[0].values, (std::vector<std::string>{"0.01", "0.1"}));
  EXPECT_EQ(gptq.axes[1].values, std::vector<std::string>{"true"});
  EXPECT_EQ(gptq.axes[2].values, std::vector<std::string>{"lm_head,model.layers.0.*"});
  EXPECT_EQ(grid.tasks[0].axes[0].values, std::vector<std::string>{"128,512"});
}

TEST(GridParseTest, KeepIsOneValueButAListOfKeepsIsAnAxis) {
  const Grid grid = MustParse(R"(
models: [m/x]
methods:
  - name: rtn
    keep: "lm_head,model.layers.0.*"
  - name: rtn
    keep: ["", lm_head, "lm_head,model.layers.0.*"]
tasks: [ppl]
)");
  EXPECT_EQ(grid.methods[0].axes[0].values.size(), 1u);
  EXPECT_EQ(grid.methods[1].axes[0].values,
            (std::vector<std::string>{"", "lm_head", "lm_head,model.layers.0.*"}));
}

// The one rule: relative paths are relative to the grid file's directory, whatever the
// current directory is and whether or not a file of that name exists there.
TEST(GridParseTest, RelativePathsResolveAgainstTheGridFile) {
  const Grid grid = MustParse(R"(
models:
  - path: ../assets/models/stories260K
  - path: /abs/model
calibration: {dataset: calib/mine.jsonl}
tasks:
  - {name: ppl, dataset: [wikitext2, texts/mine.txt]}
  - {name: mc, dataset: questions.jsonl}
)", "examples/grid.yaml");
  EXPECT_EQ(grid.models[0].path, "assets/models/stories260K");
  EXPECT_EQ(grid.models[1].path, "/abs/model");
  EXPECT_EQ(grid.calibration.axes[0].values[0], "examples/calib/mine.jsonl");
  EXPECT_EQ(grid.tasks[0].axes[0].values,
            (std::vector<std::string>{"wikitext2", "examples/texts/mine.txt"}));
  EXPECT_EQ(grid.tasks[1].axes[0].values[0], "examples/questions.jsonl");
  // "assets/..." exists relative to the test's working directory (the repository root) but
  // the grid file's directory still wins.
  const Grid nested = MustParse("models: [assets/models/stories260K]\ntasks: [ppl]\n",
                                "examples/g.yaml");
  EXPECT_EQ(nested.models[0].path, "examples/assets/models/stories260K");
}

TEST(GridParseTest, AnchorsAndMergeKeysShareSettings) {
  const std::vector<v1::JobSpec> jobs = testing_util::MustExpand(R"(
models: [m/x]
tasks:
  - &short {name: ppl, context: 512, limit: 8}
  - <<: *short
    dataset: tinystories
    limit: 4
  - {<<: [*short], protocol: rolling}
)");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[1].task().params().at("context"), "512");
  EXPECT_EQ(jobs[1].task().params().at("limit"), "4");  // the map's own key wins
  EXPECT_EQ(jobs[1].task().params().at("dataset"), "tinystories");
  EXPECT_EQ(jobs[2].task().params().at("protocol"), "rolling");
  EXPECT_EQ(jobs[2].task().params().at("limit"), "8");
  EXPECT_EQ(testing_util::FirstError("models: [m/x]\ntasks:\n  - {<<: 3, name: ppl}\n"),
            "bad.yaml:3:6: <<: expected a map or a list of maps to merge, got \"3\"");
}

TEST(GridParseTest, LoadGridFileMakesPathsAbsolute) {
  absl::StatusOr<Grid> grid = LoadGridFile("examples/demo.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->file.front(), '/');
  EXPECT_EQ(grid->models[0].path.front(), '/');
  EXPECT_NE(grid->models[0].path.find("/assets/models/stories260K"), std::string::npos);
  EXPECT_FALSE(LoadGridFile("examples/no-such-grid.yaml").ok());
}

}  // namespace
}  // namespace llmq

// Every class of grid error, each with the exact file:line:column a user would see.
namespace llmq {
namespace {

using testing_util::FirstError;

TEST(GridErrorsTest, YamlSyntaxError) {
  EXPECT_EQ(FirstError("models: [m/x\ntasks: [ppl]\n"),
            "bad.yaml:2:6: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(FirstError("models:\n  - m/x\n tasks: [ppl]\n"),
            "bad.yaml:3:2: YAML syntax error: end of map not found");
}

TEST(GridErrorsTest, EmptyOrNotAMap) {
  EXPECT_EQ(FirstError(""),
            "bad.yaml: the grid is empty: expected a map with models, methods and tasks");
  EXPECT_EQ(FirstError("# only a comment\n"),
            "bad.yaml: the grid is empty: expected a map with models, methods and tasks");
  EXPECT_EQ(FirstError("- a\n- b\n"),
            "bad.yaml:1:1: expected a map with models, methods and tasks at the top level, "
            "got a list");
}

TEST(GridErrorsTest, UnknownTopLevelKeyWithSuggestion) {
  EXPECT_EQ(FirstError("models: [m/x]\nmethod: [rtn]\ntasks: [ppl]\n"),
            "bad.yaml:2:1: grid: unknown key \"method\" (did you mean \"methods\"?)");
  // A parameter written at the top level says where it belongs.
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\ndamp: 0.1\n"),
            "bad.yaml:3:1: grid: unknown key \"damp\" (damp is a parameter of gptq; write it "
            "there)");
}

TEST(GridErrorsTest, UnknownParameterWithSuggestion) {
  EXPECT_EQ(FirstError(R"(models: [m/x]
methods:
  - name: rtn
    group_sise: 32
tasks: [ppl]
)"),
            "bad.yaml:4:5: methods: rtn: unknown key \"group_sise\" (did you mean "
            "\"group_size\"?)");
  EXPECT_EQ(FirstError(R"(models: [m/x]
methods:
  - {name: rtn, damp: 0.1}
tasks: [ppl]
)"),
            "bad.yaml:3:17: methods: rtn: unknown key \"damp\" (damp is a parameter of gptq)");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: ppl, temperature: 1}\n"),
            "bad.yaml:3:17: tasks: ppl: unknown key \"temperature\"; expected one of: dataset, "
            "format, field, protocol, context, stride, bos, limit, batch_size");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: none, bits: 4}\ntasks: [ppl]\n"),
            "bad.yaml:3:18: methods: none: none takes no parameters");
  EXPECT_EQ(FirstError("models:\n  - {path: m/x, dtyp: bf16}\ntasks: [ppl]\n"),
            "bad.yaml:2:17: models: unknown key \"dtyp\" (did you mean \"dtype\"?)");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\nresources: {device: cpu, mem: 1G}\n"),
            "bad.yaml:3:26: resources: unknown key \"mem\"; expected one of: device, memory");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\ncalibration: {sample: 8}\n"),
            "bad.yaml:3:15: calibration: unknown key \"sample\" (did you mean \"samples\"?)");
}

TEST(GridErrorsTest, UnknownMethodOrTaskName) {
  EXPECT_EQ(FirstError("models: [m/x]\nmethods: [none, gtpq]\ntasks: [ppl]\n"),
            "bad.yaml:2:17: methods: unknown method \"gtpq\" (did you mean \"gptq\"?)");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - name: hqq\ntasks: [ppl]\n"),
            "bad.yaml:3:11: methods: unknown method \"hqq\"; known: none, rtn, gptq, awq, gsq, "
            "smoothquant, fp8, llm_int8, spqr");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [perplexity]\n"),
            "bad.yaml:2:9: tasks: unknown task \"perplexity\"; known: ppl, boolq, gsm8k, "
            "msmarco, mc, efficiency");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {limit: 3}\n"),
            "bad.yaml:3:5: tasks: expected a \"name\" key, one of ppl, boolq, gsm8k, msmarco, "
            "mc, efficiency");
}

TEST(GridErrorsTest, WrongTypes) {
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: four}\ntasks: [ppl]\n"),
            "bad.yaml:3:23: methods: rtn: bits: expected an integer in 2..8, got \"four\"");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, sym: 1}\ntasks: [ppl]\n"),
            "bad.yaml:3:22: methods: rtn: sym: expected true or false, got \"1\"");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: {x: 1}}\ntasks: [ppl]\n"),
            "bad.yaml:3:23: methods: rtn: bits: expected a value or a list of values, got a map");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: [[4, 3]]}\ntasks: [ppl]\n"),
            "bad.yaml:3:24: methods: rtn: bits: expected a value, got a list (a list of values "
            "is one axis; lists inside it are not)");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - name: rtn\n    bits:\ntasks: [ppl]\n"),
            "bad.yaml:4:5: methods: rtn: bits: expected a value or a list of values, got "
            "nothing");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: []}\ntasks: [ppl]\n"),
            "bad.yaml:3:23: methods: rtn: bits: expected at least one value, got an empty list");
  EXPECT_EQ(FirstError("models: m/x\ntasks: [ppl]\n"),
            "bad.yaml:1:9: models: expected a list of models (- path: ...), got \"m/x\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\nrepeats: two\n"),
            "bad.yaml:3:10: repeats: expected an integer in 1..1000, got \"two\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\ntimeout: 30 minutes\n"),
            "bad.yaml:3:10: timeout: expected a duration like 90s, 30m, 2h, 1h30m, 1d, or a "
            "number of seconds, got \"30 minutes\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\nresources: {memory: lots}\n"),
            "bad.yaml:3:21: resources: memory: expected a size like 2GiB, 512MiB, 16G or a "
            "number of bytes, got \"lots\"");
  EXPECT_EQ(FirstError("models:\n  - {path: m/x, dtype: int4}\ntasks: [ppl]\n"),
            "bad.yaml:2:24: models: dtype: expected float32, bfloat16 or float16, got \"int4\"");
}

TEST(GridErrorsTest, OutOfRangeValues) {
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: [4, 9]}\ntasks: [ppl]\n"),
            "bad.yaml:3:27: methods: rtn: bits: expected an integer in 2..8, got \"9\"");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: gptq, group_size: 0}\n"
                       "tasks: [ppl]\n"),
            "bad.yaml:3:30: methods: gptq: group_size: expected -1 (whole row) or an integer in "
            "1..1048576, got \"0\"");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: smoothquant, alpha: 1.5}\n"
                       "tasks: [ppl]\n"),
            "bad.yaml:3:32: methods: smoothquant: alpha: expected a number in 0..1, got \"1.5\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: ppl, protocol: sliding}\n"),
            "bad.yaml:3:27: tasks: ppl: protocol: expected one of windows, rolling, got "
            "\"sliding\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: ppl, dataset: wikitex2}\n"),
            "bad.yaml:3:26: tasks: ppl: dataset: expected wikitext2, tinystories, c4 or a path "
            "(containing / or a file extension), got \"wikitex2\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\nmax_attempts: 0\n"),
            "bad.yaml:3:15: max_attempts: expected an integer in 1..100, got \"0\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\nresources: {device: tpu}\n"),
            "bad.yaml:3:21: resources: device: expected any, cpu or cuda, got \"tpu\"");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: efficiency, batch_sizes: [1, 8]}\n"),
            "OK");  // a list of batch sizes is an axis: legal
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: efficiency, batch_sizes: \"1,x\"}\n"),
            "bad.yaml:3:37: tasks: efficiency: batch_sizes: expected comma-separated positive "
            "integers in one string, like \"128,512\", got \"1,x\"");
}

TEST(GridErrorsTest, DuplicatesAndMissingKeys) {
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: [ppl]\ntasks: [boolq]\n"),
            "bad.yaml:3:1: \"tasks\" is given twice (first at line 2)");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods:\n  - {name: rtn, bits: [4, 3, 4]}\n"
                       "tasks: [ppl]\n"),
            "bad.yaml:3:30: methods: rtn: bits: value 4 is listed twice");
  EXPECT_EQ(FirstError("methods: [none]\ntasks: [ppl]\n"),
            "bad.yaml:1:1: expected a \"models\" key: the models to evaluate");
  EXPECT_EQ(FirstError("models: [m/x]\n"),
            "bad.yaml:1:1: expected a \"tasks\" key: what to evaluate the models on");
  EXPECT_EQ(FirstError("models:\n  - name: x\ntasks: [ppl]\n"),
            "bad.yaml:2:5: models: expected a \"path\" key (a Hugging Face directory or a "
            "llama2.c checkpoint)");
  EXPECT_EQ(FirstError("models: [a/x, b/x]\ntasks: [ppl]\n"),
            "bad.yaml:1:15: models: the name \"x\" is used twice (first at line 1); give each "
            "model its own name");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: mc, limit: 5}\n"),
            "bad.yaml:3:5: tasks: mc: dataset is required (a JSONL path)");
  EXPECT_EQ(FirstError("models: [~/models/x]\ntasks: [ppl]\n"),
            "bad.yaml:1:10: models: path: \"~/models/x\": \"~\" is not expanded (the "
            "coordinator and workers may have another home directory); write an absolute path "
            "or one relative to the grid file");
}

TEST(GridErrorsTest, ZipErrors) {
  const std::string head = "models: [m/x]\nmethods:\n  - {name: gptq, bits: [4, 3], "
                           "group_size: [128, 64, 32]}\ntasks: [{name: ppl, context: [512, "
                           "1024]}]\n";
  EXPECT_EQ(FirstError(head + "zip:\n  - [methods.gptq.bits, methods.gptq.group_size]\n"),
            "bad.yaml:6:5: zip: lists of unequal length (methods.gptq.bits has 2, "
            "methods.gptq.group_size has 3); zipped lists pair values one to one");
  EXPECT_EQ(FirstError(head + "zip:\n  - [methods.gptq.bits, tasks.ppl.context]\n"),
            "bad.yaml:6:25: zip: tasks.ppl.context and methods.gptq.bits belong to different "
            "entries; zip pairs the lists of one method, task or calibration");
  EXPECT_EQ(FirstError(head + "zip:\n  - [methods.gptq.bits, methods.gptq.damp]\n"),
            "bad.yaml:6:25: zip: methods.gptq.damp: gptq has no list \"damp\" to zip");
  EXPECT_EQ(FirstError(head + "zip:\n  - [methods.gtpq.bits, methods.gptq.group_size]\n"),
            "bad.yaml:6:6: zip: methods.gtpq.bits: no gtpq in methods (did you mean \"gptq\"?)");
  EXPECT_EQ(FirstError(head + "zip:\n  - [methods.gptq.bits]\n"),
            "bad.yaml:6:5: zip: expected a list of at least two axes like "
            "[methods.gptq.bits, methods.gptq.group_size], got a list");
  EXPECT_EQ(FirstError(head + "zip:\n  - [gptq.bits, gptq.group_size]\n"),
            "bad.yaml:6:6: zip: gptq.bits: expected methods.<method>.<parameter>, "
            "tasks.<task>.<parameter> or calibration.<parameter>");
}

TEST(GridErrorsTest, FilterErrors) {
  const std::string head = "models: [m/x]\nmethods: [none, {name: rtn, bits: [4, 3]}]\n"
                           "tasks: [ppl]\n";
  EXPECT_EQ(FirstError(head + "exclude:\n  - {method: rtn, bitz: 3}\n"),
            "bad.yaml:5:19: exclude: unknown key \"bitz\" (did you mean \"bits\"?)");
  EXPECT_EQ(FirstError(head + "exclude:\n  - {method: rnt}\n"),
            "bad.yaml:5:14: exclude: method: unknown method \"rnt\" (did you mean \"rtn\"?)");
  EXPECT_EQ(FirstError(head + "exclude:\n  - {model: y}\n"),
            "bad.yaml:5:13: exclude: model: no model named \"y\"");
  EXPECT_EQ(FirstError(head + "include:\n  - {bits: 12}\n"),
            "bad.yaml:5:12: include: bits: expected an integer in 2..8, got \"12\"");
  EXPECT_EQ(FirstError(head + "exclude:\n  - {}\n"),
            "bad.yaml:5:5: exclude: expected a non-empty map like {method: gptq, bits: 3}, got "
            "a map");
  EXPECT_EQ(FirstError(head + "exclude:\n  - {method: gptq}\n"),
            "bad.yaml:5:5: exclude: this entry matches no job of the grid (a misspelt value?)");
  EXPECT_EQ(FirstError(head + "exclude:\n  - {repeat: 1}\n"),
            "bad.yaml:5:14: exclude: repeat: expected a repeat index in 0..0, got \"1\"");
}

TEST(GridErrorsTest, GridsWithoutJobs) {
  EXPECT_EQ(FirstError("models: []\ntasks: [ppl]\n"),
            "bad.yaml:1:9: models: expected a list of models (- path: ...), got a list");
  EXPECT_EQ(FirstError("models: [m/x]\ntasks: []\n"),
            "bad.yaml:2:8: tasks: expected a list of tasks (- name: ...), got a list");
  EXPECT_EQ(FirstError("models: [m/x]\nmethods: [none, rtn]\ntasks: [ppl]\n"
                       "exclude:\n  - {method: none}\n  - {method: rtn}\n"),
            "bad.yaml: the grid has no jobs: its 2 combinations are all filtered out by "
            "include/exclude");
}

TEST(GridErrorsTest, ExpansionErrorsPointAtTheEntry) {
  EXPECT_EQ(FirstError("models: [m/x]\ntasks:\n  - {name: ppl, protocol: rolling, context: 512, "
                       "stride: 600}\n"),
            "bad.yaml:3:5: tasks: ppl: stride 600 exceeds context 512");
  const Grid grid = testing_util::MustParse("models: [m/x]\ntasks: [ppl]\n", "g.yaml");
  EXPECT_EQ(ExpandGrid(grid, {}).status().message(),
            "g.yaml:1:10: models: no identity for m/x (ComputeGridIdentities computes it)");
  const Grid with_file = testing_util::MustParse(
      "models: [m/x]\ntasks:\n  - {name: mc, dataset: q.jsonl}\n", "g.yaml");
  EXPECT_EQ(ExpandGrid(with_file, {{"m/x", std::string(64, 'a')}}).status().message(),
            "g.yaml:3:5: tasks: mc: dataset: no identity for file q.jsonl "
            "(ComputeGridIdentities computes it)");
}

TEST(GridErrorsTest, SeveralErrorsAreReportedTogether) {
  const absl::StatusOr<Grid> grid = ParseGrid(R"(models: [m/x]
methods:
  - {name: rtn, bits: 9, group_size: 0}
tasks: [ppl, boolk]
)", "g.yaml");
  EXPECT_EQ(grid.status().message(),
            "g.yaml:3:23: methods: rtn: bits: expected an integer in 2..8, got \"9\"\n"
            "g.yaml:3:38: methods: rtn: group_size: expected -1 (whole row) or an integer in "
            "1..1048576, got \"0\"\n"
            "g.yaml:4:14: tasks: unknown task \"boolk\" (did you mean \"boolq\"?)");
}

TEST(GridErrorsTest, OddInputNeverThrows) {
  const char* inputs[] = {
      "\t\tmodels: x",  "{{{{",           "models: *undefined", "a: &x [*x]",
      "models: [m/x]\ntasks: [ppl]\n? [complex, key]\n: v\n", "\xff\xfe\x00\x01",
      "models: !!binary AAAA\ntasks: [ppl]", "---\n---\n", "models: [m/x]\ntasks: [{name: [ppl]}]",
  };
  for (const char* input : inputs) {
    absl::StatusOr<Grid> grid = ParseGrid(input, "odd.yaml");
    EXPECT_FALSE(grid.ok()) << input;
    EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument) << grid.status();
  }
}

}  // namespace
}  // namespace llmq
