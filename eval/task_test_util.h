// The bundled stories260K model with eval's ByteTokenizer, as the tasks' tests run it.
#ifndef LLMQ_EVAL_TASK_TEST_UTIL_H_
#define LLMQ_EVAL_TASK_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>

#include "eval/task.h"
#include "eval/test_tokenizers.h"
#include "model/loader.h"

namespace llmq {

class Stories260kTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = LoadModelWithoutTokenizer("assets/models/stories260K/stories260K.bin", LoadOptions{});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    model_ = std::move(loaded->model);
    context_.model = model_.get();
    context_.tokenizer = &tokenizer_;
  }

  std::unique_ptr<CausalLM> model_;
  ByteTokenizer tokenizer_;
  TaskContext context_;
};

}  // namespace llmq

#endif  // LLMQ_EVAL_TASK_TEST_UTIL_H_
