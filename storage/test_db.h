// For tests: a fresh database path under the test's temporary directory.
#ifndef LLMQ_STORAGE_TEST_DB_H_
#define LLMQ_STORAGE_TEST_DB_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace llmq {

// A path no database exists at yet (any previous run's files are removed).
inline std::string FreshDbPath(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string path = absl::StrCat(::testing::TempDir(), "/llmq_", info->test_suite_name(), "_",
                                  info->name(), "_", name, ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove(absl::StrCat(path, suffix).c_str());
  }
  return path;
}

}  // namespace llmq

#endif  // LLMQ_STORAGE_TEST_DB_H_
