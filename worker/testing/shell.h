// Runs a shell command for a test and captures its standard output.
#ifndef LLMQ_WORKER_TESTING_SHELL_H_
#define LLMQ_WORKER_TESTING_SHELL_H_

#include <stdio.h>
#include <sys/wait.h>

#include <string>

namespace llmq {
namespace testing {

struct ShellResult {
  int exit_code = -1;  // -1 when the command could not start or did not exit normally
  std::string out;
};

inline ShellResult RunShell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace testing
}  // namespace llmq

#endif  // LLMQ_WORKER_TESTING_SHELL_H_
