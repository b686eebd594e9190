#include "grid/values.h"

#include "gtest/gtest.h"
#include "grid/yaml.h"

namespace llmq {
namespace {

TEST(GridValuesTest, IntegersAreStrictDecimal) {
  EXPECT_EQ(*ParseGridInt("4"), 4);
  EXPECT_EQ(*ParseGridInt("-1"), -1);
  EXPECT_EQ(*ParseGridInt("+7"), 7);
  EXPECT_EQ(*ParseGridInt("007"), 7);
  EXPECT_EQ(*ParseGridInt("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "-", "4.0", "1e3", "four", " 4", "0x10", "9223372036854775808"}) {
    EXPECT_FALSE(ParseGridInt(bad).ok()) << bad;
  }
}

TEST(GridValuesTest, FloatsPrintInShortestRoundTripForm) {
  EXPECT_EQ(CanonicalFloat(*ParseGridFloat("0.010")), "0.01");
  EXPECT_EQ(CanonicalFloat(*ParseGridFloat("1e-2")), "0.01");
  EXPECT_EQ(CanonicalFloat(*ParseGridFloat("6.0")), "6");
  EXPECT_EQ(CanonicalFloat(*ParseGridFloat("0.1")), "0.1");  // not 0.10000000000000001
  EXPECT_EQ(CanonicalFloat(*ParseGridFloat("-0")), "0");
  EXPECT_EQ(CanonicalFloat(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(*ParseGridFloat(CanonicalFloat(1.0 / 3)), 1.0 / 3);
  for (const char* bad : {"", "nan", "inf", "0x1p3", "1,5", "abc"}) {
    EXPECT_FALSE(ParseGridFloat(bad).ok()) << bad;
  }
}

TEST(GridValuesTest, BooleansAcceptYamlSpellings) {
  for (const char* yes : {"true", "True", "TRUE", "yes", "on"}) EXPECT_TRUE(*ParseGridBool(yes));
  for (const char* no : {"false", "False", "no", "off"}) EXPECT_FALSE(*ParseGridBool(no));
  EXPECT_FALSE(ParseGridBool("1").ok());
  EXPECT_FALSE(ParseGridBool("maybe").ok());
}

TEST(GridValuesTest, IntListsAreSortedAndDeduplicated) {
  EXPECT_EQ(*CanonicalIntList("2048, 128,512,128"), "128,512,2048");
  EXPECT_EQ(*CanonicalIntList("8"), "8");
  EXPECT_FALSE(CanonicalIntList("").ok());
  EXPECT_FALSE(CanonicalIntList("1,0").ok());
  EXPECT_FALSE(CanonicalIntList("1,x").ok());
}

TEST(GridValuesTest, PatternListsAreSortedSetsOfModuleNames) {
  EXPECT_EQ(*CanonicalPatternList("model.layers.0.*, lm_head,lm_head,"),
            "lm_head,model.layers.0.*");
  EXPECT_EQ(*CanonicalPatternList(""), "");
  EXPECT_FALSE(CanonicalPatternList("lm head").ok());
  EXPECT_FALSE(CanonicalPatternList("a;b").ok());
}

TEST(GridValuesTest, DurationsInUnitsOrSeconds) {
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("30m"), 1800);
  EXPECT_EQ(*ParseDurationSeconds("2h"), 7200);
  EXPECT_EQ(*ParseDurationSeconds("1h30m"), 5400);
  EXPECT_EQ(*ParseDurationSeconds("1.5h"), 5400);
  EXPECT_EQ(*ParseDurationSeconds("1d"), 86400);
  EXPECT_EQ(*ParseDurationSeconds("45"), 45);
  EXPECT_EQ(*ParseDurationSeconds("0"), 0);
  EXPECT_EQ(*ParseDurationSeconds("none"), 0);
  for (const char* bad : {"", "30x", "m", "-5", "1h30", "soon"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).ok()) << bad;
  }
}

TEST(GridValuesTest, ByteSizesBinaryAndDecimal) {
  EXPECT_EQ(*ParseByteSize("2GiB"), 2LL << 30);
  EXPECT_EQ(*ParseByteSize("2 GiB"), 2LL << 30);
  EXPECT_EQ(*ParseByteSize("2gib"), 2LL << 30);
  EXPECT_EQ(*ParseByteSize("16G"), 16LL << 30);  // as Slurm's --mem reads it
  EXPECT_EQ(*ParseByteSize("512Mi"), 512LL << 20);
  EXPECT_EQ(*ParseByteSize("2GB"), 2000000000LL);
  EXPECT_EQ(*ParseByteSize("1.5KiB"), 1536);
  EXPECT_EQ(*ParseByteSize("4096"), 4096);
  for (const char* bad : {"", "GiB", "2 parsecs", "-1GiB", "1e30"}) {
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  }
}

TEST(GridValuesTest, PathsNormalizeLexically) {
  EXPECT_EQ(NormalizePath("a/./b/../c/"), "a/c");
  EXPECT_EQ(NormalizePath("../x"), "../x");
  EXPECT_EQ(NormalizePath("a/../../x"), "../x");
  EXPECT_EQ(NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath(""), ".");
  EXPECT_EQ(NormalizePath("//a//b"), "/a/b");
}

TEST(GridValuesTest, RelativePathsResolveAgainstTheGridFilesDirectory) {
  EXPECT_EQ(*ResolveGridPath("examples/demo.yaml", "../assets/models/x"), "assets/models/x");
  EXPECT_EQ(*ResolveGridPath("/srv/grids/g.yaml", "models/m"), "/srv/grids/models/m");
  EXPECT_EQ(*ResolveGridPath("g.yaml", "models/m"), "models/m");
  EXPECT_EQ(*ResolveGridPath("/srv/grids/g.yaml", "/data/m"), "/data/m");
  EXPECT_FALSE(ResolveGridPath("g.yaml", "~/models/m").ok());
  EXPECT_EQ(MakeAbsolutePath("/a/b/../c"), "/a/c");
  EXPECT_EQ(MakeAbsolutePath("x").front(), '/');
}

TEST(GridValuesTest, DidYouMeanFindsCloseNames) {
  const std::vector<std::string> names = {"bits", "group_size", "sym", "keep"};
  EXPECT_EQ(ClosestMatch("group_sise", names), "group_size");
  EXPECT_EQ(ClosestMatch("bit", names), "bits");
  EXPECT_EQ(ClosestMatch("btis", names), "bits");  // a transposition is one edit
  EXPECT_EQ(ClosestMatch("Bits", names), "bits");
  EXPECT_EQ(ClosestMatch("temperature", names), "");
  EXPECT_EQ(DidYouMean("gtpq", {"gptq", "awq"}), " (did you mean \"gptq\"?)");
}

TEST(GridValuesTest, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(FormatGridError("g.yaml", {3, 7}, "bad"), "g.yaml:3:7: bad");
  EXPECT_EQ(FormatGridError("g.yaml", {}, "bad"), "g.yaml: bad");
  GridDiagnostics diagnostics("g.yaml");
  EXPECT_TRUE(diagnostics.ToStatus().ok());
  for (int i = 0; i < GridDiagnostics::kMaxErrors + 2; ++i) diagnostics.Error({i + 1, 1}, "e");
  const absl::Status status = diagnostics.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("g.yaml:1:1: e\ng.yaml:2:1: e"), absl::string_view::npos);
  EXPECT_NE(status.message().find("... and 2 more errors"), absl::string_view::npos);
}

}  // namespace
}  // namespace llmq
