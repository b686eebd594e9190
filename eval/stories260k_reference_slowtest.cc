// stories260K on the "tinystories-paragraphs" protocol against the independent
// implementation's numbers (tests/scripts/reference_stories260k.py ->
// tests/fixtures/reference/stories260k.json): token count, windows and fp32 perplexity.
// Slow (751 windows of 512 tokens): CTest label `slow`.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/corpus.h"
#include "common/files.h"
#include "common/hash.h"
#include "eval/perplexity.h"
#include "model/loader.h"

namespace llmq {
namespace {

TEST(Stories260kReferenceTest, TinyStoriesParagraphsPerplexityMatchesIndependentImplementation) {
  auto text = ReadFile("tests/fixtures/reference/stories260k.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json ref = nlohmann::json::parse(*text)["tinystories_paragraphs"];

  auto loaded = LoadModel("assets/models/stories260K/stories260K.bin", LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto docs = LoadCorpus({"tinystories", "paragraphs"});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(static_cast<int64_t>(docs->size()), ref["paragraphs"].get<int64_t>());
  std::vector<int32_t> stream = EncodeDocuments(*loaded->tokenizer, *docs, /*add_special=*/true);
  ASSERT_EQ(static_cast<int64_t>(stream.size()), ref["total_tokens"].get<int64_t>());
  EXPECT_EQ(Sha256Hex(absl::string_view(reinterpret_cast<const char*>(stream.data()),
                                        stream.size() * sizeof(int32_t))),
            ref["tokens_sha256_int32le"].get<std::string>());

  PerplexityOptions options;
  options.context = 512;
  options.batch_size = 16;
  auto result = ComputePerplexity(*loaded->model, stream, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->windows, ref["windows"].get<int64_t>());
  EXPECT_EQ(result->predicted_tokens, ref["predicted_tokens"].get<int64_t>());
  const double expected = ref["ppl"].get<double>();
  // The issue asks for 0.1 %; fp32 arithmetic in a different order agrees far closer.
  EXPECT_NEAR(result->ppl, expected, 1e-3 * expected);
  EXPECT_NEAR(result->ppl, expected, 1e-5 * expected) << "looser than expected fp32 noise";
  std::printf("stories260K tinystories-paragraphs: llmq ppl %.8f, reference %.8f (rel diff %.2e)\n",
              result->ppl, expected, std::abs(result->ppl - expected) / expected);
}

}  // namespace
}  // namespace llmq
