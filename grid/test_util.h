// Helpers shared by the grid library's tests: parse-or-fail, expand with made-up
// identities, and short descriptions of jobs for order checks.
#ifndef LLMQ_GRID_TEST_UTIL_H_
#define LLMQ_GRID_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hash.h"
#include "gtest/gtest.h"
#include "grid/grid.h"
#include "grid/schema.h"

namespace llmq {
namespace testing_util {

// An identity for every model path and dataset file of `grid`: the hash of `salt` and the
// path's last component, so two paths to "the same" model can share one.
inline PathIdentities FakeIdentities(const Grid& grid, const std::string& salt = "") {
  PathIdentities identities;
  auto add = [&](const std::string& path) {
    identities[path] = Sha256Hex(absl::StrCat(salt, path.substr(path.find_last_of('/') + 1)));
  };
  for (const GridModel& model : grid.models) add(model.path);
  auto add_files = [&](const GridEntry& entry, const GridEntrySchema* schema) {
    if (schema == nullptr) return;
    for (const GridAxis& axis : entry.axes) {
      for (const std::string& value : axis.values) {
        if (IsFileValue(*schema->FindParam(axis.param), value)) add(value);
      }
    }
  };
  for (const GridEntry& entry : grid.methods) add_files(entry, FindGridMethod(entry.name));
  add_files(grid.calibration, &GridCalibrationSchema());
  for (const GridEntry& entry : grid.tasks) add_files(entry, FindGridTask(entry.name));
  return identities;
}

inline Grid MustParse(const std::string& yaml, const std::string& file = "grid.yaml") {
  absl::StatusOr<Grid> grid = ParseGrid(yaml, file);
  EXPECT_TRUE(grid.ok()) << grid.status();
  return grid.ok() ? *grid : Grid();
}

inline std::vector<v1::JobSpec> MustExpand(const std::string& yaml,
                                           const std::string& file = "grid.yaml") {
  const Grid grid = MustParse(yaml, file);
  absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, FakeIdentities(grid));
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  return jobs.ok() ? *jobs : std::vector<v1::JobSpec>();
}

// The first error line of parsing (and, if parsing succeeds, expanding) `yaml`.
inline std::string FirstError(const std::string& yaml, const std::string& file = "bad.yaml") {
  absl::StatusOr<Grid> grid = ParseGrid(yaml, file);
  absl::Status status = grid.status();
  if (grid.ok()) status = ExpandGrid(*grid, FakeIdentities(*grid)).status();
  if (status.ok()) return "OK";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  const std::string message(status.message());
  return message.substr(0, message.find('\n'));
}

// "model/method{params}/task{params}/r" with only the parameters named in `show`.
inline std::string Describe(const v1::JobSpec& job, const std::vector<std::string>& show = {}) {
  std::vector<std::string> parts;
  for (const std::string& name : show) {
    if (job.method().params().count(name)) {
      parts.push_back(absl::StrCat(name, "=", job.method().params().at(name)));
    }
    if (job.task().params().count(name)) {
      parts.push_back(absl::StrCat(name, "=", job.task().params().at(name)));
    }
  }
  return absl::StrCat(job.model().alias(), "/", job.method().name(), "/", job.task().name(),
                      parts.empty() ? "" : absl::StrCat("{", absl::StrJoin(parts, ","), "}"),
                      "/", job.repeat());
}

}  // namespace testing_util
}  // namespace llmq

#endif  // LLMQ_GRID_TEST_UTIL_H_
