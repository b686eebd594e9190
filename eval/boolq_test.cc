#include "eval/boolq.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "eval/task.h"
#include "eval/task_test_util.h"
#include "model/loader.h"

namespace llmq {
namespace {

class BoolqTaskTest : public Stories260kTaskTest {};

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  fputs(text.c_str(), f);
  fclose(f);
  return path;
}

TEST(BoolqTest, PromptIsLmEvalsTemplate) {
  BoolqExample example;
  example.passage = "Ethanol fuel -- All biomass goes through steps.";
  example.question = "does ethanol take more energy make that produces";
  EXPECT_EQ(BoolqPrompt(example),
            "Ethanol fuel -- All biomass goes through steps.\n"
            "Question: does ethanol take more energy make that produces?\nAnswer:");
  EXPECT_EQ(BoolqChoices(), (std::vector<std::string>{"no", "yes"}));
}

TEST(BoolqTest, BundledDevSetHasThePublishedLabelCounts) {
  auto examples = LoadBoolq("assets/data/boolq/val.jsonl");
  ASSERT_TRUE(examples.ok()) << examples.status();
  // SOURCES.md: 3,270 records, 2,033 "true", 1,237 "false".
  EXPECT_EQ(examples->size(), 3270u);
  int64_t yes = 0;
  for (const auto& e : *examples) yes += e.answer;
  EXPECT_EQ(yes, 2033);
  EXPECT_FALSE((*examples)[0].answer);
  EXPECT_EQ((*examples)[0].question, "does ethanol take more energy make that produces");
}

TEST(BoolqTest, AcceptsSuperGlueAndGoogleLabelLayouts) {
  const std::string path = WriteTemp(
      "boolq_layouts.jsonl",
      "{\"passage\": \"p\", \"question\": \"q\", \"label\": \"true\"}\n"
      "{\"passage\": \"p\", \"question\": \"q\", \"label\": 0}\n"
      "{\"passage\": \"p\", \"question\": \"q\", \"label\": true}\n"
      "{\"title\": \"T\", \"passage\": \"p\", \"question\": \"q\", \"answer\": false}\n");
  auto examples = LoadBoolq(path);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 4u);
  EXPECT_TRUE((*examples)[0].answer);
  EXPECT_FALSE((*examples)[1].answer);
  EXPECT_TRUE((*examples)[2].answer);
  EXPECT_FALSE((*examples)[3].answer);
  EXPECT_EQ((*examples)[3].passage, "T -- p");
}

TEST(BoolqTest, BadLinesNameFileAndLine) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"{\"passage\": \"p\", \"question\": \"q\", \"label\": \"true\"}\n{\"passage\": \"p\", \"label\": \"true\"}\n",
       "boolq_bad.jsonl:2: no string field 'question'"},
      {"\n\n{\"passage\": \"p\", \"question\": \"q\", \"label\": \"maybe\"}\n", "boolq_bad.jsonl:3: 'label'"},
      {"{\"passage\": \"p\", \"question\": \"q\"}\n", "boolq_bad.jsonl:1: no 'label'"},
      {"{\"passage\": \"p\",\n", "boolq_bad.jsonl:1: not valid JSON"},
      {"[1, 2]\n", "boolq_bad.jsonl:1: not a JSON object"},
  };
  for (const Case& c : cases) {
    auto loaded = LoadBoolq(WriteTemp("boolq_bad.jsonl", c.text));
    ASSERT_FALSE(loaded.ok()) << c.expected;
    EXPECT_NE(loaded.status().ToString().find(c.expected), std::string::npos) << loaded.status();
  }
  auto missing = LoadBoolq("no/such/boolq.jsonl");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().ToString().find("no/such/boolq.jsonl"), std::string::npos);
}

TEST_F(BoolqTaskTest, TaskResultDoesNotDependOnBatchSize) {
  auto one = RunTask("boolq", {{"limit", "6"}, {"batch_size", "1"}}, context_);
  auto seven = RunTask("boolq", {{"limit", "6"}, {"batch_size", "7"}}, context_);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(seven.ok()) << seven.status();
  EXPECT_EQ(one->metrics[0].name, "accuracy");
  EXPECT_EQ(one->metrics[0].value, seven->metrics[0].value);
  EXPECT_EQ(one->metrics[1].value, 6.0);
  EXPECT_EQ(one->provenance.at("boolq.bos"), "true");  // the tokenizer's own rule, as lm-eval
  EXPECT_EQ(one->provenance.at("boolq.subsample"), "shuffle");
  EXPECT_EQ(one->provenance.at("boolq.dataset_size"), "3270");
}

TEST_F(BoolqTaskTest, TaskNeedsAModelAndRejectsBadParameters) {
  TaskContext empty;
  EXPECT_EQ(RunTask("boolq", {}, empty).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RunTask("boolq", {{"subsample", "random"}}, context_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunTask("boolq", {{"limit", "-1"}}, context_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunTask("boolq", {{"batch_size", "x"}}, context_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmq
