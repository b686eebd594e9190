#include "common/digest_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

class DigestCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    ::setenv("LLMQ_CACHE_DIR", JoinPath(dir_, "cache").c_str(), 1);
  }
  void TearDown() override { ::unsetenv("LLMQ_CACHE_DIR"); }
  // A file with `text`, last modified a minute ago (recent files are not cached).
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = JoinPath(dir_, name);
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - 60;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    EXPECT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    return path;
  }
  const TempDir temp_{"llmq_digest_cache_test"};
  const std::string dir_ = temp_.path();
};

TEST_F(DigestCacheTest, SecondLookupComesFromTheCacheUntilTheFileChanges) {
  const std::string path = Write("weights.bin", std::string(4096, 'a'));
  const std::string truth = *Sha256File(path);
  ASSERT_EQ(*CachedSha256File(path, /*min_bytes=*/1024), truth);
  const std::string cache = DigestCachePath();
  auto text = ReadFile(cache);
  ASSERT_TRUE(text.ok()) << "the digest was not recorded";
  EXPECT_NE(text->find(truth), std::string::npos);

  // Proof that the cache is read: doctor the recorded digest and get it back.
  const std::string fake(64, 'f');
  ASSERT_TRUE(WriteFileAtomically(cache, absl::StrReplaceAll(*text, {{truth, fake}})).ok());
  EXPECT_EQ(*CachedSha256File(path, 1024), fake);

  // Another size (and mtime): the stale entry is ignored and the file hashed again.
  const std::string changed = Write("weights.bin", std::string(4097, 'a'));
  EXPECT_EQ(*CachedSha256File(changed, 1024), *Sha256File(changed));
  EXPECT_NE(*CachedSha256File(changed, 1024), fake);
}

TEST_F(DigestCacheTest, SmallRecentAndMissingFilesAreNotCached) {
  const std::string small = Write("config.json", "{}");
  EXPECT_EQ(*CachedSha256File(small, 1024), *Sha256File(small));
  const std::string recent = JoinPath(dir_, "recent.bin");
  ASSERT_TRUE(WriteFileAtomically(recent, std::string(4096, 'b')).ok());
  EXPECT_EQ(*CachedSha256File(recent, 1024), *Sha256File(recent));
  EXPECT_FALSE(FileExists(DigestCachePath())) << "nothing should have been recorded";
  auto missing = CachedSha256File(JoinPath(dir_, "nope.bin"), 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().ToString().find("nope.bin"), std::string::npos);
}

TEST_F(DigestCacheTest, OffDisablesIt) {
  ::setenv("LLMQ_CACHE_DIR", "off", 1);
  EXPECT_EQ(DigestCachePath(), "");
  const std::string path = Write("weights.bin", std::string(4096, 'c'));
  EXPECT_EQ(*CachedSha256File(path, 1024), *Sha256File(path));
}

}  // namespace
}  // namespace llmq
