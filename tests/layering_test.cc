// Dependencies point one way (README.md, "Layout"). A folder that does not link a library
// already fails to build on that library's own headers under its folder name
// ("proto/llmq.pb.h"); this also catches the headers that are installed system-wide (gRPC,
// Protobuf, libtorch, SQLite) and would compile anywhere.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

struct Rule {
  const char* folder;
  std::vector<const char*> banned;  // substrings of an #include line
};

TEST(LayeringTest, FoldersIncludeOnlyWhatTheyMayUse) {
  const char* const kGrpc = "grpc";  // grpcpp/..., proto/llmq.grpc.pb.h
  const std::vector<Rule> rules = {
      {"storage", {"proto/", "google/protobuf", kGrpc}},
      {"grid", {kGrpc, "sqlite", "torch", "ATen"}},
      {"report", {kGrpc, "sqlite", "torch", "ATen"}},
      {"tokenizer", {"proto/", kGrpc, "sqlite", "torch", "ATen", "model/"}},
      {"model", {"proto/", kGrpc, "sqlite", "quant/", "eval/"}},
      {"quant", {"proto/", kGrpc, "sqlite", "eval/"}},
      {"eval", {"proto/", kGrpc, "sqlite", "quant/"}},
  };
  for (const Rule& rule : rules) {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(rule.folder)) {
      const std::string extension = entry.path().extension().string();
      if (extension != ".h" && extension != ".cc") continue;
      ++files;
      std::ifstream in(entry.path());
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        if (!absl::StartsWith(line, "#include")) continue;
        for (const char* banned : rule.banned) {
          EXPECT_FALSE(absl::StrContains(line, banned))
              << entry.path().string() << ":" << number << ": " << line;
        }
      }
    }
    EXPECT_GT(files, 5) << rule.folder;  // the folder was there to read (tests run from the root)
  }
}

}  // namespace
}  // namespace llmq
