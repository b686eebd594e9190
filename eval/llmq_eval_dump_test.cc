// llmq_eval_dump's BOS default, run as a process (the tool is a binary, and its default is
// what this test is about): without --bos it encodes as lm-eval-harness does by default,
// i.e. as Hugging Face's encode(text, add_special_tokens=True), each tokenizer by its own
// rule; --bos=false encodes without special tokens.
#include <stdio.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/temp_dir.h"

namespace llmq {
namespace {

// The context_ids of the one example the dump scored, or an empty vector on failure.
std::vector<int32_t> DumpedContextIds(const std::string& model, const std::string& dataset,
                                      const std::string& extra_flags) {
  const char* build = std::getenv("LLMQ_BUILD_DIR");
  const std::string binary = absl::StrCat(build != nullptr ? build : "build", "/eval/llmq_eval_dump");
  const std::string command = absl::StrCat(binary, " --model=", model, " --task=mc --dataset=",
                                           dataset, " --limit=1 ", extra_flags, " 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("context_ids")) return j["context_ids"].get<std::vector<int32_t>>();
  }
  ADD_FAILURE() << command << " printed no example:\n" << out;
  return {};
}

std::string WriteItem(const TempDir& dir, const std::string& context) {
  const std::string path = dir.Join("item.jsonl");
  nlohmann::json item = {{"context", context}, {"choices", {"yes", "no"}}, {"answer", 0}};
  std::ofstream(path) << item.dump() << "\n";
  return path;
}

// The Hugging Face fixtures' reference.json holds what transformers' tokenizer gives for a
// text with add_special_tokens=True ("ids") and False ("ids_no_special"): llama-gqa adds its
// BOS (TemplateProcessing); qwen2-bf16 has none; phi-sharded has one (<|endoftext|>) but,
// GPT-2 style, does not add it.
TEST(EvalDumpTest, DefaultEncodesWithTheTokenizersSpecialTokensAsLmEval) {
  TempDir dir("llmq_eval_dump_test");
  ASSERT_FALSE(dir.path().empty());
  for (const std::string fixture : {"llama-gqa", "qwen2-bf16", "phi-sharded"}) {
    SCOPED_TRACE(fixture);
    const std::string model = "tests/fixtures/hf/" + fixture;
    auto text = ReadFile(model + "/reference.json");
    ASSERT_TRUE(text.ok()) << text.status();
    const nlohmann::json reference = nlohmann::json::parse(*text);
    // A text that ends in a whole word, so that " no" after it cannot change its tokens.
    const nlohmann::json* entry = nullptr;
    for (const nlohmann::json& t : reference["tokenization"]) {
      const std::string s = t["text"].get<std::string>();
      auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
      if (s.size() > 20 && s.find('\n') == std::string::npos && letter(s.back()) &&
          letter(s[s.size() - 2])) {
        entry = &t;
        break;
      }
    }
    ASSERT_NE(entry, nullptr);
    const auto with_special = (*entry)["ids"].get<std::vector<int32_t>>();
    const auto without = (*entry)["ids_no_special"].get<std::vector<int32_t>>();
    const std::string dataset = WriteItem(dir, (*entry)["text"].get<std::string>());
    EXPECT_EQ(DumpedContextIds(model, dataset, ""), with_special);
    EXPECT_EQ(DumpedContextIds(model, dataset, "--bos=false"), without);
  }
}

// stories260K as llama2.c (whose encode() always starts with BOS, id 1) and as the
// Hugging Face conversion (tokenizer.json's TemplateProcessing "<s> $A", tokenizer_config.json
// add_bos_token: true, "<s>" = 1): BOS by default, none with --bos=false.
TEST(EvalDumpTest, Stories260KStartsWithBosByDefault) {
  TempDir dir("llmq_eval_dump_test");
  ASSERT_FALSE(dir.path().empty());
  const std::string dataset = WriteItem(dir, "Lily looked up at the sky. The sky was");
  for (const std::string model :
       {"assets/models/stories260K/stories260K.bin", "assets/models/stories260K-hf"}) {
    SCOPED_TRACE(model);
    const std::vector<int32_t> by_default = DumpedContextIds(model, dataset, "");
    const std::vector<int32_t> without = DumpedContextIds(model, dataset, "--bos=false");
    ASSERT_FALSE(by_default.empty());
    ASSERT_FALSE(without.empty());
    EXPECT_EQ(by_default.front(), 1);
    EXPECT_NE(without.front(), 1);
    EXPECT_EQ(std::vector<int32_t>(by_default.begin() + 1, by_default.end()), without);
  }
}

}  // namespace
}  // namespace llmq
