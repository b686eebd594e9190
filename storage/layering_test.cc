// storage/ knows nothing of the proto or gRPC (README.md, "Layout"): the coordinator
// translates (coordinator/store_codec.h). Not linking llmq_proto already fails the build
// on "proto/llmq.pb.h"; this also catches Protobuf's and gRPC's own headers, which are
// installed system-wide and would compile.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

TEST(StorageLayeringTest, NoFileIncludesTheProtoOrGrpc) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator("storage")) {
    const std::string extension = entry.path().extension().string();
    if (extension != ".h" && extension != ".cc") continue;
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (!absl::StartsWith(line, "#include")) continue;
      for (const char* banned : {"proto/", "google/protobuf", "grpc"}) {
        EXPECT_FALSE(absl::StrContains(line, banned))
            << entry.path().string() << ":" << number << ": " << line;
      }
    }
  }
  EXPECT_GT(files, 10);  // the folder was there to read (tests run from the source root)
}

}  // namespace
}  // namespace llmq
