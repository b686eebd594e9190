#include "common/files.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace llmq {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

TEST(FilesTest, AtomicWriteThenReadRoundTrips) {
  const std::string path = JoinPath(TempDir(), "llmq_files_test.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "hello").ok());
  auto contents = ReadFile(path);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(*contents, "hello");
  auto mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(std::string((*mapped)->data(), (*mapped)->size()), "hello");
}

TEST(FilesTest, MissingFileIsNotFoundAndNamed) {
  auto contents = ReadFile("/nonexistent/x.json");
  ASSERT_FALSE(contents.ok());
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(contents.status().message().find("/nonexistent/x.json"), std::string::npos);
}

TEST(FilesTest, JoinPathDoesNotDoubleSeparators) {
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a", "/abs"), "/abs");
}

TEST(FilesTest, MakeDirectoriesCreatesNestedPath) {
  const std::string dir = JoinPath(TempDir(), "llmq_files_test_dir/x/y");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  EXPECT_TRUE(IsDirectory(dir));
}

}  // namespace
}  // namespace llmq
