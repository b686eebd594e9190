#include "worker/artifact_cache.h"

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/files.h"
#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

class WorkerArtifactCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(root_.empty()); }

  // Commits an artifact of `bytes` bytes (two files) under `key`.
  void CommitArtifact(ArtifactCache& cache, const std::string& key, size_t bytes) {
    absl::StatusOr<std::string> staging = cache.NewStagingDir(key);
    ASSERT_TRUE(staging.ok()) << staging.status();
    ASSERT_TRUE(WriteFileAtomically(JoinPath(*staging, "model.safetensors"),
                                    std::string(bytes - 10, 'w')).ok());
    ASSERT_TRUE(MakeDirectories(JoinPath(*staging, "meta")).ok());
    ASSERT_TRUE(WriteFileAtomically(JoinPath(*staging, "meta/config"), "0123456789").ok());
    ASSERT_TRUE(cache.Commit(key, *staging).ok());
    EXPECT_FALSE(IsDirectory(*staging));
  }

  const TempDir temp_{"llmq_cache_test"};
  const std::string root_ = temp_.path();
};

TEST_F(WorkerArtifactCacheTest, CommittedArtifactIsFoundAtItsPath) {
  auto cache = ArtifactCache::Open(root_, 0);
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE((*cache)->Has("abc"));
  CommitArtifact(**cache, "abc", 100);
  EXPECT_TRUE((*cache)->Has("abc"));
  EXPECT_EQ((*cache)->Path("abc"), JoinPath(root_, "abc"));
  EXPECT_TRUE(FileExists(JoinPath((*cache)->Path("abc"), "model.safetensors")));
  EXPECT_EQ((*cache)->Keys(), std::vector<std::string>{"abc"});
  EXPECT_EQ((*cache)->TotalBytes(), 100);
}

TEST_F(WorkerArtifactCacheTest, StagingDirectoriesAreNotEntries) {
  auto cache = ArtifactCache::Open(root_, 0);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE((*cache)->NewStagingDir("abc").ok());
  EXPECT_FALSE((*cache)->Has("abc"));
  EXPECT_TRUE((*cache)->Keys().empty());
}

TEST_F(WorkerArtifactCacheTest, EvictsLeastRecentlyUsedDownToTheLimit) {
  auto cache = ArtifactCache::Open(root_, 250);
  ASSERT_TRUE(cache.ok());
  const absl::Time t0 = absl::Now();
  CommitArtifact(**cache, "a", 100);
  ASSERT_TRUE((*cache)->Touch("a", t0 - absl::Minutes(3)).ok());
  CommitArtifact(**cache, "b", 100);
  ASSERT_TRUE((*cache)->Touch("b", t0 - absl::Minutes(2)).ok());
  ASSERT_TRUE((*cache)->Touch("a", t0 - absl::Minutes(1)).ok());  // a used after b
  // 300 bytes > 250: b, the least recently used, goes; a and the new c stay.
  CommitArtifact(**cache, "c", 100);
  EXPECT_FALSE((*cache)->Has("b"));
  EXPECT_TRUE((*cache)->Has("a"));
  EXPECT_TRUE((*cache)->Has("c"));
  EXPECT_EQ((*cache)->Keys(), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ((*cache)->TotalBytes(), 200);
}

TEST_F(WorkerArtifactCacheTest, NeverEvictsTheEntryJustCommittedEvenIfAloneTooBig) {
  auto cache = ArtifactCache::Open(root_, 150);
  ASSERT_TRUE(cache.ok());
  CommitArtifact(**cache, "a", 100);
  CommitArtifact(**cache, "big", 400);
  EXPECT_FALSE((*cache)->Has("a"));
  EXPECT_TRUE((*cache)->Has("big"));
}

TEST_F(WorkerArtifactCacheTest, EvictHonoursALimitThatShrank) {
  {
    auto cache = ArtifactCache::Open(root_, 0);
    ASSERT_TRUE(cache.ok());
    CommitArtifact(**cache, "a", 100);
    ASSERT_TRUE((*cache)->Touch("a", absl::Now() - absl::Minutes(1)).ok());
    CommitArtifact(**cache, "b", 100);
  }
  auto cache = ArtifactCache::Open(root_, 100);
  ASSERT_TRUE(cache.ok());
  absl::StatusOr<std::vector<std::string>> evicted = (*cache)->Evict();
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, std::vector<std::string>{"a"});
  EXPECT_EQ((*cache)->Keys(), std::vector<std::string>{"b"});
}

TEST_F(WorkerArtifactCacheTest, CommittingAPresentKeyKeepsTheExistingEntry) {
  auto cache = ArtifactCache::Open(root_, 0);
  ASSERT_TRUE(cache.ok());
  CommitArtifact(**cache, "a", 100);
  CommitArtifact(**cache, "a", 50);
  EXPECT_EQ((*cache)->TotalBytes(), 100);
}

TEST_F(WorkerArtifactCacheTest, KeysThatEscapeTheRootAreRejected) {
  auto cache = ArtifactCache::Open(root_, 0);
  ASSERT_TRUE(cache.ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*cache)->NewStagingDir("../x").status()));
  EXPECT_TRUE(absl::IsInvalidArgument((*cache)->Commit(".staging", root_)));
  EXPECT_TRUE(absl::IsInvalidArgument((*cache)->Touch("")));
  EXPECT_FALSE((*cache)->Has(".."));
}

}  // namespace
}  // namespace llmq
