#include "eval/gsm8k.h"

#include <gtest/gtest.h>

#include <set>

#include "common/hash.h"
#include "eval/task.h"
#include "eval/task_common.h"
#include "eval/task_test_util.h"
#include "model/loader.h"

namespace llmq {
namespace {

class Gsm8kTaskTest : public Stories260kTaskTest {};

TEST(Gsm8kAnswerTest, StrictTakesTheNumberAfterHashes) {
  EXPECT_EQ(ExtractStrictAnswer("48/2 = 24\n#### 72", false), "72");
  EXPECT_EQ(ExtractStrictAnswer("so #### 1,234 in total", false), "1,234");
  EXPECT_EQ(ExtractStrictAnswer("#### -5", false), "-5");
  EXPECT_EQ(ExtractStrictAnswer("#### $18.", false), "$18");
  // The first "#### " followed by a number wins; a bare one is skipped.
  EXPECT_EQ(ExtractStrictAnswer("#### none\n#### 7\n#### 8", false), "7");
}

TEST(Gsm8kAnswerTest, StrictFailsWithoutHashesWhileFlexibleTakesTheLastNumber) {
  const std::string completion = "She pays 3 * 4 = 12 dollars, then 12 + 6 = 18.";
  EXPECT_EQ(ExtractStrictAnswer(completion, false), std::nullopt);
  EXPECT_EQ(ExtractLastNumber(completion), "18");
  EXPECT_FALSE(AnswersMatch(ExtractStrictAnswer(completion, false), "18"));
  EXPECT_TRUE(AnswersMatch(ExtractLastNumber(completion), "18"));
}

TEST(Gsm8kAnswerTest, CotStrictTakesTheAnswerIsPhrase) {
  EXPECT_EQ(ExtractStrictAnswer("5 * 4 = 20. The answer is 29.", true), "29");
  EXPECT_EQ(ExtractStrictAnswer("#### 29", true), std::nullopt);
  EXPECT_EQ(ExtractStrictAnswer("The answer is 29.", false), std::nullopt);
}

TEST(Gsm8kAnswerTest, FlexibleReadsCommasNegativesDecimalsAndDollars) {
  EXPECT_EQ(ExtractLastNumber("It costs 1,234 dollars"), "1,234");
  EXPECT_EQ(ExtractLastNumber("the change is -5"), "-5");
  EXPECT_EQ(ExtractLastNumber("each is 3.50"), "3.50");
  EXPECT_EQ(ExtractLastNumber("she has $18."), "$18");
  EXPECT_EQ(ExtractLastNumber("5-3 = 2"), "2");
  EXPECT_EQ(ExtractLastNumber("one, two"), std::nullopt);
  // A comma ending a number is punctuation, not a digit group.
  EXPECT_EQ(ExtractLastNumber("buy 5, then 6, please"), "6");
}

TEST(Gsm8kAnswerTest, FlexibleSkipsNumbersInsideWords) {
  EXPECT_EQ(ExtractLastNumber("The answer is 42 per mp3"), "42");
  EXPECT_EQ(ExtractLastNumber("7 vitamins like B12"), "7");
  EXPECT_EQ(ExtractLastNumber("10 apples on the 3rd day"), "10");
  EXPECT_EQ(ExtractLastNumber("abc123def"), std::nullopt);
}

TEST(Gsm8kAnswerTest, NormalisationComparesValues) {
  EXPECT_TRUE(AnswersMatch("1,234", "1234"));
  EXPECT_TRUE(AnswersMatch("3.50", "3.5"));
  EXPECT_TRUE(AnswersMatch("$18.", "18"));
  EXPECT_TRUE(AnswersMatch("-5", "-5"));
  EXPECT_FALSE(AnswersMatch("-5", "5"));
  EXPECT_FALSE(AnswersMatch("18", "180"));
  EXPECT_FALSE(AnswersMatch(std::nullopt, "18"));
  EXPECT_EQ(ParseAnswerNumber("1e5"), std::nullopt);
  EXPECT_EQ(ParseAnswerNumber("inf"), std::nullopt);
  EXPECT_EQ(ParseAnswerNumber("."), std::nullopt);
  EXPECT_EQ(ParseAnswerNumber(" 2,000.25 "), 2000.25);
}

TEST(Gsm8kAnswerTest, GoldIsTheTextAfterTheLastHashes) {
  EXPECT_EQ(Gsm8kGoldAnswer("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72"), "72");
  EXPECT_EQ(Gsm8kGoldAnswer("x\n#### 1,000 "), "1,000");
}

TEST(Gsm8kPromptTest, FewShotFormatJoinsQuestionAnswerBlocksWithBlankLines) {
  Gsm8kPromptBuilder builder({{"What is 1+1?", "1+1=2\n#### 2"}, {"What is 2+2?", "#### 4"}}, false);
  EXPECT_EQ(builder.Render("What is 3+3?"),
            "Question: What is 1+1?\nAnswer: 1+1=2\n#### 2\n\n"
            "Question: What is 2+2?\nAnswer: #### 4\n\n"
            "Question: What is 3+3?\nAnswer:");
  EXPECT_EQ(builder.TemplateText(),
            "Question: What is 1+1?\nAnswer: 1+1=2\n#### 2\n\n"
            "Question: What is 2+2?\nAnswer: #### 4\n\n"
            "Question: {question}\nAnswer:");
  const std::set<std::string> stops(builder.stop_strings().begin(), builder.stop_strings().end());
  EXPECT_EQ(stops, (std::set<std::string>{"Question:", "</s>", "<|im_end|>", "\n\n"}));
  Gsm8kPromptBuilder newer({}, false, /*stop_at_blank_line=*/false);
  EXPECT_EQ(newer.stop_strings().size(), 3u);
}

TEST(Gsm8kPromptTest, ChainOfThoughtUsesTheEightFixedExemplars) {
  ASSERT_EQ(ChainOfThoughtExemplars().size(), 8u);
  Gsm8kPromptBuilder builder({ChainOfThoughtExemplars()[1]}, true);
  EXPECT_EQ(builder.Render("How many?"),
            "Q: If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in "
            "the parking lot?\nA: There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The "
            "answer is 5.\n\nQ: How many?\nA:");
  // Every exemplar's own strict answer is what its text says.
  const char* answers[] = {"6", "5", "39", "8", "9", "29", "33", "8"};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(ExtractStrictAnswer(ChainOfThoughtExemplars()[i].answer, true), answers[i]) << i;
  }
}

TEST(Gsm8kDataTest, BundledSplitsHaveThePublishedSizes) {
  auto train = LoadGsm8k("assets/data/gsm8k/train.jsonl");
  auto test = LoadGsm8k("assets/data/gsm8k/test.jsonl");
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(train->size(), 7473u);
  EXPECT_EQ(test->size(), 1319u);
  EXPECT_EQ(Gsm8kGoldAnswer((*test)[0].answer), "18");  // Janet's ducks
}

TEST(Gsm8kDataTest, BadLineNamesFileAndLine) {
  const std::string path = ::testing::TempDir() + "/gsm8k_bad.jsonl";
  FILE* f = fopen(path.c_str(), "w");
  fputs("{\"question\": \"q\", \"answer\": \"#### 1\"}\n\n{\"question\": \"q2\"}\n", f);
  fclose(f);
  auto loaded = LoadGsm8k(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().ToString().find("gsm8k_bad.jsonl:3: no string field 'answer'"), std::string::npos)
      << loaded.status();
}

TEST_F(Gsm8kTaskTest, RunsEndToEndAndRecordsTheTemplateHash) {
  auto out = RunTask("gsm8k", {{"limit", "3"}, {"n_shot", "1"}, {"max_new_tokens", "8"}, {"batch_size", "2"}},
                     context_);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->metrics.size(), 3u);
  EXPECT_EQ(out->metrics[0].name, "exact_match_strict");
  EXPECT_GE(out->metrics[0].value, 0.0);
  EXPECT_LE(out->metrics[1].value, 1.0);
  EXPECT_EQ(out->metrics[2].value, 3.0);
  EXPECT_EQ(out->provenance.at("gsm8k.n_shot"), "1");
  EXPECT_EQ(out->provenance.at("gsm8k.stop_strings"), "Question: </s> <|im_end|> \\n\\n");
  auto train = LoadGsm8k("assets/data/gsm8k/train.jsonl");
  ASSERT_TRUE(train.ok());
  const size_t exemplar = SeededPermutation(train->size(), 1234)[0];
  EXPECT_EQ(out->provenance.at("gsm8k.exemplars"), std::to_string(exemplar));
  Gsm8kPromptBuilder builder({(*train)[exemplar]}, false);
  EXPECT_EQ(out->provenance.at("gsm8k.template_sha256"), Sha256Hex(builder.TemplateText()));
}

}  // namespace
}  // namespace llmq
