#include "common/hash.h"

#include <gtest/gtest.h>

namespace llmq {
namespace {

// Published test vectors (FIPS 180-2, appendix B).
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FieldsAreLengthPrefixed) {
  Sha256 a, b;
  a.UpdateField("ab");
  a.UpdateField("c");
  b.UpdateField("a");
  b.UpdateField("bc");
  EXPECT_NE(a.HexDigest(), b.HexDigest());
}

TEST(Sha256Test, FileMatchesPublishedChecksum) {
  // SHA-256 published for stories260K.bin in assets/SOURCES.md.
  auto hash = Sha256File("assets/models/stories260K/stories260K.bin");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
}

TEST(Sha256Test, MissingFileNamesThePath) {
  auto hash = Sha256File("no/such/file.bin");
  ASSERT_FALSE(hash.ok());
  EXPECT_NE(hash.status().message().find("no/such/file.bin"), std::string::npos);
}

}  // namespace
}  // namespace llmq
