#include "common/files.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/memory.h"

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

TEST(FilesTest, ReleasedPagesLeaveRssAndReadAsTheFileAgain) {
  constexpr size_t kMiB = 1 << 20, kSize = 64 * kMiB;
  std::string bytes(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) bytes[i] = static_cast<char>(i % 251);
  const std::string path = JoinPath(TempDir(), "llmq_files_test_release.bin");
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  auto mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  const MappedFile& map = **mapped;
  const int64_t before = CurrentRssBytes();
  ASSERT_GT(before, 0) << "no /proc/self/status";
  int64_t sum = 0;
  for (size_t i = 0; i < kSize; i += 4096) sum += map.data()[i];
  EXPECT_NE(sum, 0);
  const int64_t touched = CurrentRssBytes();
  EXPECT_GE(touched, before + 60 * static_cast<int64_t>(kMiB));
  // A write through the private map, inside the range about to go.
  const size_t offset = 1000, length = 48 * kMiB, written = 5 * kMiB;
  const_cast<char*>(map.data())[written] = 'x';

  map.ReleasePages(offset, length);
  const int64_t released = touched - CurrentRssBytes();
  EXPECT_GE(released, 44 * static_cast<int64_t>(kMiB));
  EXPECT_LE(released, 49 * static_cast<int64_t>(kMiB));
  // Everything reads as the file, the released range (and the write into it) included.
  EXPECT_EQ(std::memcmp(map.data(), bytes.data(), kSize), 0);
}

}  // namespace
}  // namespace llmq
