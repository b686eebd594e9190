#include "grid/schema.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

std::vector<const GridEntrySchema*> AllEntries() {
  std::vector<const GridEntrySchema*> entries;
  for (const GridEntrySchema& e : GridMethodSchemas()) entries.push_back(&e);
  for (const GridEntrySchema& e : GridTaskSchemas()) entries.push_back(&e);
  entries.push_back(&GridCalibrationSchema());
  return entries;
}

TEST(GridSchemaTest, DefaultsAreCanonicalValuesOfTheirOwnParameter) {
  for (const GridEntrySchema* entry : AllEntries()) {
    for (const GridParamSchema& param : entry->params) {
      if (!param.has_default) continue;
      const absl::StatusOr<std::string> canonical =
          CanonicalParamValue(param, param.default_value, "");
      ASSERT_TRUE(canonical.ok()) << entry->name << "." << param.name << ": "
                                  << canonical.status();
      EXPECT_EQ(*canonical, param.default_value) << entry->name << "." << param.name;
    }
  }
}

TEST(GridSchemaTest, OneParameterNameHasOneTypeEverywhere) {
  // Filters canonicalize `{bits: 4}` without knowing the method: names must agree on type.
  std::map<std::string, GridParamType> types;
  for (const GridEntrySchema* entry : AllEntries()) {
    for (const GridParamSchema& param : entry->params) {
      const auto [it, inserted] = types.emplace(param.name, param.type);
      const bool dataset = param.name == "dataset";  // a bundled name or a path, or a path
      if (!inserted && !dataset) {
        EXPECT_EQ(it->second, param.type) << param.name;
      }
    }
  }
}

TEST(GridSchemaTest, MethodsAsSpecified) {
  std::set<std::string> calibrating;
  for (const GridEntrySchema& method : GridMethodSchemas()) {
    if (method.calibrates) calibrating.insert(method.name);
    EXPECT_EQ(method.FindParam("keep") != nullptr, method.name != "none") << method.name;
  }
  EXPECT_EQ(calibrating,
            (std::set<std::string>{"gptq", "awq", "gsq", "smoothquant", "spqr"}));
  EXPECT_EQ(FindGridMethod("awq")->ParamNames(), FindGridMethod("gsq")->ParamNames());
  auto default_of = [](const char* method, const char* param) {
    return FindGridMethod(method)->FindParam(param)->default_value;
  };
  EXPECT_EQ(default_of("rtn", "bits"), "4");
  EXPECT_EQ(default_of("rtn", "group_size"), "128");
  EXPECT_EQ(default_of("gptq", "damp"), "0.01");
  EXPECT_EQ(default_of("gptq", "true_sequential"), "true");
  EXPECT_EQ(default_of("awq", "grid"), "20");
  EXPECT_EQ(default_of("smoothquant", "alpha"), "0.5");
  EXPECT_EQ(default_of("fp8", "granularity"), "tensor");
  EXPECT_EQ(default_of("llm_int8", "threshold"), "6");
  EXPECT_EQ(default_of("spqr", "bits"), "3");
  EXPECT_EQ(default_of("spqr", "group_size"), "16");
  EXPECT_EQ(default_of("spqr", "outlier_threshold"), "0.2");
}

TEST(GridSchemaTest, OnlyBatchSizeAndScanLeaveResultsAlone) {
  for (const GridEntrySchema* entry : AllEntries()) {
    for (const GridParamSchema& param : entry->params) {
      EXPECT_EQ(param.affects_result, param.name != "batch_size" && param.name != "scan")
          << entry->name << "." << param.name;
    }
  }
  EXPECT_EQ(GridTaskNames(),
            (std::vector<std::string>{"ppl", "boolq", "gsm8k", "msmarco", "mc", "efficiency"}));
}

TEST(GridSchemaTest, CompleteParamsFillsDefaultsAndDerivesPpl) {
  const auto ppl = CompleteParams(*FindGridTask("ppl"),
                                  {{"protocol", "rolling"}, {"context", "0100"}});
  ASSERT_TRUE(ppl.ok()) << ppl.status();
  EXPECT_EQ(ppl->at("context"), "100");
  EXPECT_EQ(ppl->at("stride"), "50");
  EXPECT_EQ(ppl->at("format"), "text");
  EXPECT_EQ(ppl->count("field"), 0u);
  EXPECT_EQ(CompleteParams(*FindGridTask("mc"), {}).status().message(),
            "mc: dataset is required (a JSONL path)");
  EXPECT_EQ(CompleteParams(*FindGridMethod("rtn"), {{"bits", "1"}}).status().message(),
            "rtn: bits: expected an integer in 2..8, got \"1\"");
}

// gsm8k's chain of thought runs the 8 exemplars of its paper, 5 drawn from train without it,
// and README's gsm8k row says so.
TEST(GridSchemaTest, Gsm8kShotCountFollowsChainOfThoughtAsReadmeSays) {
  const GridEntrySchema& gsm8k = *FindGridTask("gsm8k");
  EXPECT_EQ(CompleteParams(gsm8k, {{"cot", "true"}})->at("n_shot"), "8");
  EXPECT_EQ(CompleteParams(gsm8k, {})->at("n_shot"), "5");
  EXPECT_EQ(CompleteParams(gsm8k, {{"cot", "true"}, {"n_shot", "3"}})->at("n_shot"), "3");
  EXPECT_EQ(CompleteParams(gsm8k, {{"seed", "7"}})->at("fewshot_seed"), "7");
  EXPECT_FALSE(CompleteParams(gsm8k, {{"cot", "true"}, {"n_shot", "9"}}).ok());
  const absl::StatusOr<std::string> doc = ReadFile("README.md");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_TRUE(absl::StrContains(*doc, "n_shot (default 5 drawn from train; with cot 8"));
}

// README.md's grid tables name every parameter with its default: a schema change
// that forgets the documentation fails here.
TEST(GridSchemaTest, FormatDocumentListsEveryParameterAndDefault) {
  const absl::StatusOr<std::string> doc = ReadFile("README.md");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto row_of = [&](const std::string& name) -> std::string {
    for (absl::string_view line : absl::StrSplit(*doc, '\n')) {
      if (absl::StartsWith(line, absl::StrCat("| `", name, "` |"))) return std::string(line);
    }
    return "";
  };
  std::vector<const GridEntrySchema*> entries;
  for (const GridEntrySchema& e : GridMethodSchemas()) entries.push_back(&e);
  for (const GridEntrySchema& e : GridTaskSchemas()) entries.push_back(&e);
  for (const GridEntrySchema* entry : entries) {
    const std::string row = row_of(entry->name);
    ASSERT_FALSE(row.empty()) << entry->name << " has no row";
    for (const GridParamSchema& param : entry->params) {
      if (param.name == "keep" || param.name == "overrides" || param.name == "block" ||
          param.name == "scan") {
        continue;  // described once for all methods, each with its own check below
      }
      const std::string plain = absl::StrCat(param.name, "=", param.default_value);
      const std::string quoted = absl::StrCat(param.name, "=\"", param.default_value, "\"");
      const bool documented = param.has_default ? absl::StrContains(row, plain) ||
                                                      absl::StrContains(row, quoted)
                                                : absl::StrContains(row, param.name);
      EXPECT_TRUE(documented) << entry->name << "." << param.name;
    }
  }
  for (const char* shared : {"`keep`", "`overrides`", "`block`", "`scan: layers`"}) {
    EXPECT_TRUE(absl::StrContains(*doc, shared)) << shared;
  }
  for (const GridParamSchema& param : GridCalibrationSchema().params) {
    EXPECT_TRUE(absl::StrContains(*doc, absl::StrCat("`", param.name, "`=", param.default_value)))
        << "calibration." << param.name;
  }
}

}  // namespace
}  // namespace llmq
