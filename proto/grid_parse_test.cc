#include "gtest/gtest.h"
#include "proto/grid.h"
#include "proto/grid_test_util.h"

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
