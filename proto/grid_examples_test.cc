// Every grid in examples/ parses and expands against the bundled assets (tests run from the
// repository root).
#include <dirent.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/grid.h"

namespace llmq {
namespace {

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> files;
  DIR* dir = ::opendir("examples");
  if (dir == nullptr) return files;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml")) {
      files.push_back("examples/" + name);
    }
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<v1::JobSpec>> ExpandExample(const std::string& path) {
  absl::StatusOr<Grid> grid = LoadGridFile(path);
  if (!grid.ok()) return grid.status();
  absl::StatusOr<PathIdentities> identities = ComputeGridIdentities(*grid);
  if (!identities.ok()) return identities.status();
  return ExpandGrid(*grid, *identities);
}

TEST(GridExamplesTest, EveryExampleParsesAndExpands) {
  const std::vector<std::string> files = ExampleFiles();
  EXPECT_GE(files.size(), 4u);
  for (const std::string& file : files) {
    const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample(file);
    ASSERT_TRUE(jobs.ok()) << file << ": " << jobs.status();
    EXPECT_FALSE(jobs->empty()) << file;
    std::set<std::string> keys;
    for (const v1::JobSpec& job : *jobs) keys.insert(job.job_key());
    EXPECT_EQ(keys.size(), jobs->size()) << file;
  }
}

TEST(GridExamplesTest, DemoIsFiveQuickJobsOnTheBundledModel) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample("examples/demo.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 5u);
  for (const v1::JobSpec& job : *jobs) {
    EXPECT_TRUE(absl::EndsWith(job.model().path(), "/assets/models/stories260K"));
    EXPECT_EQ(job.task().params().at("dataset"), "tinystories");
    EXPECT_EQ(job.task().params().at("context"), "512");
    EXPECT_NE(job.task().params().at("limit"), "0");
    // Only GPTQ calibrates, on 32 C4 windows.
    EXPECT_EQ(job.has_calibration(), job.method().name() == "gptq") << job.method().name();
    if (job.has_calibration()) EXPECT_EQ(job.calibration().samples(), 32);
  }
  EXPECT_EQ((*jobs)[0].method().name(), "none");
  std::vector<std::string> variants;
  for (size_t i = 1; i < jobs->size(); ++i) {
    variants.push_back(absl::StrCat((*jobs)[i].method().name(), " w",
                                    (*jobs)[i].method().params().at("bits"), " g",
                                    (*jobs)[i].method().params().at("group_size")));
  }
  EXPECT_EQ(variants, (std::vector<std::string>{"rtn w4 g32", "rtn w3 g32", "gptq w4 g32",
                                                "gptq w3 g32"}));
}

TEST(GridExamplesTest, EndToEndGridHasAtLeastTwelveQuickJobs) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample("examples/e2e-12.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), 13u);  // 5 method variants x 3 tasks - 2 excluded
  for (const v1::JobSpec& job : *jobs) {
    EXPECT_FALSE(job.has_calibration());
    if (job.task().name() == "ppl") {
      EXPECT_NE(job.task().params().at("limit"), "0");
    }
  }
}

TEST(GridExamplesTest, SeedTableHasThePapersLayout) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs =
      ExpandExample("examples/seed-table.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), (1u + 3 * 2) * 5);
  std::set<std::string> tasks, group_sizes;
  for (const v1::JobSpec& job : *jobs) {
    tasks.insert(job.task().name());
    if (job.method().name() != "none") {
      EXPECT_EQ(job.method().params().at("bits"), "4");
      group_sizes.insert(job.method().params().at("group_size"));
    }
  }
  EXPECT_EQ(tasks, (std::set<std::string>{"ppl", "boolq", "gsm8k", "msmarco", "efficiency"}));
  EXPECT_EQ(group_sizes, (std::set<std::string>{"16", "64"}));
}

TEST(GridExamplesTest, RelativeGridPathGivesRelativeModelPaths) {
  absl::StatusOr<Grid> grid = ParseGrid("models: [../assets/models/stories260K]\ntasks: [ppl]\n",
                                        "examples/inline.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->models[0].path, "assets/models/stories260K");
}

}  // namespace
}  // namespace llmq
