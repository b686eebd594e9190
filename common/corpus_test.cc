#include "common/corpus.h"

#include <gtest/gtest.h>

#include "common/files.h"

namespace llmq {
namespace {

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = JoinPath("/tmp", name);
  EXPECT_TRUE(WriteFileAtomically(path, contents).ok());
  return path;
}

TEST(CorpusTest, ParagraphsSplitOnEmptyLinesStripAndDropEmpty) {
  const std::string path = WriteTemp("llmq_corpus_p.txt", "  one\ntwo \n\n\n three\n\n \n\nfour");
  auto docs = LoadCorpus({path, "paragraphs"});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(*docs, (std::vector<std::string>{"one\ntwo", "three", "four"}));
}

TEST(CorpusTest, TextIsOneDocumentWithUnixLineEnds) {
  const std::string path = WriteTemp("llmq_corpus_t.txt", "a\r\nb\r\n");
  auto docs = LoadCorpus({path, ""});
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(*docs, (std::vector<std::string>{"a\nb\n"}));
}

TEST(CorpusTest, JsonlReadsTheFieldAndNamesBadLines) {
  const std::string good = WriteTemp("llmq_corpus_good.jsonl", "{\"text\": \"x\"}\n\n{\"text\": \"y\"}\n");
  auto docs = LoadCorpus({good, ""});
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(*docs, (std::vector<std::string>{"x", "y"}));
  const std::string bad = WriteTemp("llmq_corpus_bad.jsonl", "{\"text\": \"x\"}\n{\"body\": 1}\n");
  auto error = LoadCorpus({bad, ""});
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("llmq_corpus_bad.jsonl:2"), std::string::npos);
  EXPECT_NE(error.status().message().find("'text'"), std::string::npos);
}

TEST(CorpusTest, BundledTinyStoriesHas4300Paragraphs) {
  // Counted independently with Python: text.split("\n\n"), strip, drop empty.
  auto docs = LoadCorpus({"tinystories", ""});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 4300u);
}

TEST(CorpusTest, BundledC4Has1000Documents) {
  auto docs = LoadCorpus({"c4", ""});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 1000u);  // assets/SOURCES.md
}

TEST(CorpusTest, UnknownDatasetIsAClearError) {
  auto docs = LoadCorpus({"wikitext3", ""});
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.status().message().find("wikitext3"), std::string::npos);
}

}  // namespace
}  // namespace llmq
