#include "common/cpu.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/temp_dir.h"

namespace llmq {
namespace {

TEST(CpuTest, AtLeastOneCore) { EXPECT_GE(CoresAvailable(), 1); }

// Run only by the test below, in a re-executed copy of this binary: writes the pid and the
// OpenMP settings it started with to $LLMQ_CPU_TEST_OUT.
TEST(CpuTest, DISABLED_WritesItsEnvironment) {
  const char* out = getenv("LLMQ_CPU_TEST_OUT");
  ASSERT_NE(out, nullptr);
  const char* spin = getenv("GOMP_SPINCOUNT");
  std::ofstream(out) << getpid() << " " << (spin != nullptr ? spin : "unset") << "\n";
}

// What a process started with these settings runs with after LimitOpenMpSpinning: its pid
// (the same when it re-executed in place) and GOMP_SPINCOUNT.
std::string RunChild(const std::string& out, const char* policy, const char* spin, pid_t* child) {
  // Everything the child needs is made before fork(): it only sets variables and execs.
  std::string self(4096, '\0');
  self.resize(std::max<ssize_t>(0, readlink("/proc/self/exe", self.data(), self.size())));
  std::string filter = "--gtest_filter=CpuTest.DISABLED_WritesItsEnvironment";
  std::string disabled = "--gtest_also_run_disabled_tests";
  char* args[] = {self.data(), filter.data(), disabled.data(), nullptr};
  *child = fork();
  if (*child == 0) {
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    if (policy != nullptr) setenv("OMP_WAIT_POLICY", policy, 1);
    if (spin != nullptr) setenv("GOMP_SPINCOUNT", spin, 1);
    setenv("LLMQ_CPU_TEST_OUT", out.c_str(), 1);
    LimitOpenMpSpinning(args);
    execv(self.c_str(), args);  // it returned: start the reporting test unchanged
    _exit(127);
  }
  int status = 0;
  waitpid(*child, &status, 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CpuTest, SpinningIsLimitedUnlessTheUserChoseAPolicy) {
  TempDir dir;
  pid_t child = 0;
  std::string got = RunChild(dir.path() + "/none", nullptr, nullptr, &child);
  EXPECT_EQ(got, std::to_string(child) + " " + kOpenMpSpinCount + "\n");
  got = RunChild(dir.path() + "/spin", nullptr, "7", &child);
  EXPECT_EQ(got, std::to_string(child) + " 7\n");
  got = RunChild(dir.path() + "/policy", "ACTIVE", nullptr, &child);
  EXPECT_EQ(got, std::to_string(child) + " unset\n");
}

}  // namespace
}  // namespace llmq
