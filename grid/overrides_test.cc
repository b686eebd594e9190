#include "grid/overrides.h"

#include "gtest/gtest.h"
#include "grid/grid.h"
#include "grid/keys.h"
#include "grid/test_util.h"

namespace llmq {
namespace {

using testing_util::FirstError;
using testing_util::MustExpand;
using testing_util::MustParse;

TEST(GridOverridesTest, PatternsMatchWholeNamesOrDottedSuffixes) {
  const char* up = "model.layers.0.mlp.up_proj";
  EXPECT_TRUE(LayerPatternMatches("layers.0.*", up));
  EXPECT_TRUE(LayerPatternMatches("model.layers.0.*", up));
  EXPECT_TRUE(LayerPatternMatches("*.up_proj", up));
  EXPECT_TRUE(LayerPatternMatches("mlp.*", up));
  EXPECT_FALSE(LayerPatternMatches("layers.0.*", "model.layers.10.mlp.up_proj"));
  EXPECT_FALSE(LayerPatternMatches("0.*", "model.layers.10.mlp.up_proj"));
  EXPECT_FALSE(LayerPatternMatches("*.down_proj", up));
  EXPECT_FALSE(LayerPatternMatches("ayers.0.*", up));  // suffixes start after a dot
}

TEST(GridOverridesTest, AListOfMapsIsOneCanonicalValueInFileOrder) {
  const Grid grid = MustParse(R"(
models: [m/x]
methods:
  - name: gptq
    bits: 3
    overrides:
      - {pattern: "*.down_proj", group_size: 32, bits: 4}
      - {pattern: "layers.0.*", keep: yes}
      - {pattern: "*.o_proj", method: rtn}
tasks: [ppl]
)");
  ASSERT_EQ(grid.methods[0].axes.size(), 2u);
  EXPECT_EQ(grid.methods[0].axes[1].param, "overrides");
  EXPECT_EQ(grid.methods[0].axes[1].values,
            std::vector<std::string>{
                "*.down_proj:bits=4,group_size=32;layers.0.*:keep;*.o_proj:method=rtn"});
  auto parsed = ParseLayerOverrides(grid.methods[0].axes[1].values[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_TRUE((*parsed)[1].keep);
  EXPECT_EQ((*parsed)[2].method, "rtn");
  EXPECT_EQ((*parsed)[0].params.at("bits"), "4");
}

TEST(GridOverridesTest, AListOfListsIsAnAxisAndOverridesEnterTheJobKey) {
  const auto jobs = MustExpand(R"(
models: [m/x]
methods:
  - name: rtn
    bits: 3
    group_size: 16
    overrides:
      - [{pattern: "layers.0.*", keep: true}]
      - [{pattern: "layers.1.*", keep: true}]
  - {name: rtn, bits: 3, group_size: 16}
tasks: [ppl]
)");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].method().params().at("overrides"), "layers.0.*:keep");
  EXPECT_EQ(jobs[1].method().params().at("overrides"), "layers.1.*:keep");
  EXPECT_EQ(jobs[2].method().params().at("overrides"), "");
  EXPECT_NE(jobs[0].job_key(), jobs[1].job_key());
  EXPECT_NE(jobs[0].job_key(), jobs[2].job_key());
  EXPECT_NE(jobs[0].quant_key(), jobs[2].quant_key());
  // No overrides keeps the key a job had before overrides existed: written as the empty
  // canonical string, it is the same job.
  const auto same = MustExpand(R"(
models: [m/x]
methods:
  - {name: rtn, bits: 3, group_size: 16, overrides: ""}
tasks: [ppl]
)");
  ASSERT_EQ(same.size(), 1u);
  EXPECT_EQ(same[0].job_key(), jobs[2].job_key());
}

TEST(GridOverridesTest, BadOverridesNameTheirPlace) {
  const std::string head = "models: [m/x]\ntasks: [ppl]\nmethods:\n  - name: rtn\n    overrides:\n";
  EXPECT_EQ(FirstError(head + "      - {pattern: \"*.down_proj\", bitz: 4}\n"),
            "bad.yaml:6:34: methods: rtn: overrides: unknown key \"bitz\" (did you mean \"bits\"?)");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"*.down_proj\", bits: 9}\n"),
            "bad.yaml:6:40: methods: rtn: overrides: bits: expected an integer in 2..8, got \"9\"");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"*.down_proj\", keep: true, bits: 4}\n"),
            "bad.yaml:6:9: methods: rtn: overrides: pattern \"*.down_proj\": keep leaves the "
            "layers in float; it takes no bits, group_size or method");
  EXPECT_EQ(FirstError(head + "      - {bits: 4}\n"),
            "bad.yaml:6:9: methods: rtn: overrides: pattern: required, e.g. \"layers.0.*\"");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"layers.0.*\"}\n"),
            "bad.yaml:6:9: methods: rtn: overrides: pattern \"layers.0.*\": expected keep: "
            "true, or bits, group_size or method");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"layers 0\", keep: true}\n"),
            "bad.yaml:6:9: methods: rtn: overrides: pattern: expected a layer-name pattern "
            "(letters, digits, _ . - * ?) like \"layers.0.*\", got \"layers 0\"");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"layers.0.*\", method: gptq}\n"),
            "bad.yaml:6:41: methods: rtn: overrides: method gptq calibrates, but the entry's "
            "rtn draws no calibration windows; make gptq the entry's method and override the "
            "other layers");
  EXPECT_EQ(FirstError(head + "      - {pattern: \"layers.0.*\", method: rnt}\n"),
            "bad.yaml:6:41: methods: rtn: overrides: method: expected one of rtn, "
            "gptq, awq, gsq, smoothquant, fp8, llm_int8, spqr (keep: true leaves layers in float), "
            "got \"rnt\" (did you mean \"rtn\"?)");
  EXPECT_EQ(FirstError(head + "      pattern: x\n"),
            "bad.yaml:6:7: methods: rtn: overrides: expected a list of {pattern, bits, "
            "group_size, method} or {pattern, keep: true}, got a map");
}

}  // namespace
}  // namespace llmq
