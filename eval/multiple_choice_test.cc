#include "eval/multiple_choice.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "eval/task.h"
#include "eval/task_test_util.h"
#include "model/loader.h"

namespace llmq {
namespace {

class McTaskTest : public Stories260kTaskTest {};

absl::Status ParseText(const std::string& text) {
  auto lines = ParseJsonLines(text, "mine.jsonl");
  if (!lines.ok()) return lines.status();
  return ParseMcLines(*lines).status();
}

TEST(McTest, ExampleDatasetParses) {
  auto items = LoadMcDataset("examples/data/tiny_mc.jsonl");
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(items->size(), 22u);
  EXPECT_EQ((*items)[0].id, "sky");
  EXPECT_EQ((*items)[1].item.answer, 1);
  EXPECT_EQ((*items)[1].item.choices[1], "ate its food.");
}

TEST(McTest, IdsDefaultToTheItemIndex) {
  auto lines = ParseJsonLines(
      "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n\n"
      "{\"context\": \"b\", \"choices\": [\"x\", \"y\"], \"answer\": 0, \"id\": 7}\n",
      "mine.jsonl");
  ASSERT_TRUE(lines.ok());
  auto items = ParseMcLines(*lines);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ((*items)[0].id, "0");
  EXPECT_EQ((*items)[1].id, "7");
}

TEST(McTest, BadLinesNameFileAndLine) {
  const std::string good = "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 0, \"id\": \"g\"}\n";
  struct Case {
    std::string text;
    const char* expected;
  } cases[] = {
      {good + "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 2}\n",
       "mine.jsonl:2: 'answer' 2 is not an index into 2 choices"},
      {good + "{\"context\": \"a\", \"choices\": [\"x\"], \"answer\": 0}\n", "mine.jsonl:2: 'choices' needs at least 2"},
      {good + "\n{\"context\": \"a\", \"answer\": 0}\n", "mine.jsonl:3: no list field 'choices'"},
      {"{\"context\": 5, \"choices\": [\"x\", \"y\"], \"answer\": 0}\n", "mine.jsonl:1: no string field 'context'"},
      {"{\"context\": \"a\", \"choices\": [\"x\", 3], \"answer\": 0}\n", "mine.jsonl:1: 'choices' holds a non-string"},
      {"{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": \"0\"}\n", "mine.jsonl:1: no integer field 'answer'"},
      {good + good, "mine.jsonl:2: duplicate id 'g'"},
      {good + "{oops}\n", "mine.jsonl:2: not valid JSON"},
  };
  for (const Case& c : cases) {
    absl::Status status = ParseText(c.text);
    ASSERT_FALSE(status.ok()) << c.expected;
    EXPECT_NE(status.ToString().find(c.expected), std::string::npos) << status;
  }
}

TEST(McTest, LengthNormalisationDividesByTheChoiceBytes) {
  // Log-likelihoods -10 ("ab", 2 bytes) and -12 ("abcdef", 6 bytes): acc picks 0, per byte
  // -5 vs -2 picks 1.
  EXPECT_EQ(ArgMax({-10.0, -12.0}), 0);
  EXPECT_EQ(NormalizedArgMax({-10.0, -12.0}, {"ab", "abcdef"}), 1);
  // Bytes, not characters: "é" is 2 bytes in UTF-8, so -3 / 2 beats -2 / 1.
  EXPECT_EQ(NormalizedArgMax({-2.0, -3.0}, {"e", "\xc3\xa9"}), 1);
  // Ties go to the earlier choice, as numpy's argmax.
  EXPECT_EQ(ArgMax({-1.0, -1.0}), 0);
}

TEST_F(McTaskTest, TaskRunsOnTheExampleDatasetIndependentOfBatchSize) {
  auto one = RunTask("mc", {{"dataset", "examples/data/tiny_mc.jsonl"}, {"batch_size", "1"}}, context_);
  auto seven = RunTask("mc", {{"dataset", "examples/data/tiny_mc.jsonl"}, {"batch_size", "7"}}, context_);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(seven.ok()) << seven.status();
  ASSERT_EQ(one->metrics.size(), 3u);
  EXPECT_EQ(one->metrics[0].value, seven->metrics[0].value);
  EXPECT_EQ(one->metrics[1].value, seven->metrics[1].value);
  EXPECT_EQ(one->metrics[2].value, 22.0);
  EXPECT_EQ(one->provenance.at("mc.dataset_size"), "22");
  EXPECT_EQ(RunTask("mc", {}, context_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmq
