// NFC against the examples of Unicode's UAX #15 and the Unicode Character Database.
#include "tokenizer/tokenizer_nfc.h"

#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(TokenizerNfcTest, ComposesCanonicalPairs) {
  EXPECT_EQ(ToNfc("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(ToNfc("A\u030a"), "\u00c5");
  EXPECT_EQ(ToNfc("caf\u00e9 plain ASCII"), "caf\u00e9 plain ASCII");
}

TEST(TokenizerNfcTest, SingletonsDecompose) {
  EXPECT_EQ(ToNfc("\u212b"), "\u00c5");  // ANGSTROM SIGN
  EXPECT_EQ(ToNfc("\u2126"), "\u03a9");  // OHM SIGN
  EXPECT_EQ(ToNfc("\uf900"), "\u8c48");  // CJK compatibility ideograph
}

TEST(TokenizerNfcTest, ReordersMarksByCombiningClass) {
  // UAX #15: d + dot above + dot below, in either order, becomes d-with-dot-below + dot above.
  EXPECT_EQ(ToNfc("\u1e0b\u0323"), "\u1e0d\u0307");
  EXPECT_EQ(ToNfc("d\u0307\u0323"), "\u1e0d\u0307");
  // No composite for q: only the order changes (dot below, class 220, first).
  EXPECT_EQ(ToNfc("q\u0307\u0323"), "q\u0323\u0307");
}

TEST(TokenizerNfcTest, ExclusionsStayDecomposed) {
  EXPECT_EQ(ToNfc("\u0958"), "\u0915\u093c");  // DEVANAGARI QA: composition exclusion
  EXPECT_EQ(ToNfc("\u0344"), "\u0308\u0301");  // non-starter decomposition
  EXPECT_EQ(ToNfc("\ufb01"), "\ufb01");        // a compatibility ligature is NFC already
}

TEST(TokenizerNfcTest, ComposesHangul) {
  EXPECT_EQ(ToNfc("\u1100\u1161\u11a8"), "\uac01");  // L V T
  EXPECT_EQ(ToNfc("\uac00\u11a8"), "\uac01");        // LV T
  EXPECT_EQ(ToNfc("\ud55c\uad6d\uc5b4"), "\ud55c\uad6d\uc5b4");
}

TEST(TokenizerNfcTest, InvalidBytesPassThrough) {
  EXPECT_EQ(ToNfc("a\xff"
                  "e\u0301\xc3"),
            "a\xff\u00e9\xc3");
}

}  // namespace
}  // namespace llmq
