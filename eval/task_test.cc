// RunTask completes a task's parameters from the grid schema, the one table of defaults.
#include "eval/task.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/files.h"
#include "common/params.h"
#include "common/temp_dir.h"
#include "grid/schema.h"
#include "eval/task_test_util.h"

namespace llmq {
namespace {

class TaskSchemaTest : public Stories260kTaskTest {};

// Every task, run with only what makes it quick (and mc's required dataset), asks for
// exactly the parameters its schema entry has: none the schema lacks (a default written
// in the task instead), none it leaves unread. Parameters the schema drops because they do
// not apply (ppl: stride unless rolling, field unless jsonl) are not asked for either.
TEST_F(TaskSchemaTest, EveryTaskReadsExactlyItsSchemaParameters) {
  TempDir dir;
  const std::string mc = JoinPath(dir.path(), "mc.jsonl");
  ASSERT_TRUE(WriteFileAtomically(
                  mc, "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n")
                  .ok());
  const std::map<std::string, Params> quick = {
      {"ppl", {{"dataset", "tinystories"}, {"context", "64"}, {"limit", "1"}}},
      {"boolq", {{"limit", "2"}}},
      {"gsm8k", {{"limit", "1"}, {"n_shot", "1"}, {"max_new_tokens", "2"}}},
      {"msmarco", {{"limit", "1"}, {"max_passages", "2"}}},
      {"mc", {{"dataset", mc}}},
      {"efficiency",
       {{"prompt_lengths", "8"}, {"decode_tokens", "2"}, {"batch_sizes", "1"}, {"repeats", "1"}}},
  };
  for (const GridEntrySchema& task : GridTaskSchemas()) {
    ASSERT_EQ(quick.count(task.name), 1u) << "no quick parameters for task " << task.name;
    const Params& given = quick.at(task.name);
    const absl::StatusOr<Params> completed = CompleteParams(task, given);
    ASSERT_TRUE(completed.ok()) << completed.status();
    ParamReadLog log;
    const absl::StatusOr<TaskOutput> out = RunTask(task.name, given, context_);
    ASSERT_TRUE(out.ok()) << task.name << ": " << out.status();
    std::set<std::string> expected;
    for (const auto& [name, value] : *completed) expected.insert(name);
    EXPECT_EQ(log.names(), expected) << task.name;
  }
}

// Chain of thought runs the 8 exemplars of its paper unless n_shot says otherwise (README's
// gsm8k row says so too; grid/schema_test.cc checks the row).
TEST_F(TaskSchemaTest, Gsm8kChainOfThoughtRunsItsEightExemplars) {
  const absl::StatusOr<TaskOutput> out =
      RunTask("gsm8k", {{"cot", "true"}, {"limit", "1"}, {"max_new_tokens", "2"}}, context_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->provenance.at("gsm8k.exemplars"), "wei2022[0:8]");
}

}  // namespace
}  // namespace llmq
