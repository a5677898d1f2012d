#include "common/flags.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::ElementsAre;

TEST(NormalizeFlagNamesTest, DashesInNamesOnly) {
  EXPECT_THAT(NormalizeFlagNames({"farm-agent", "--device-id=pixel-8", "--port-file", "/tmp/a-b",
                                  "-max-parallel=2", "pos-arg"}),
              ElementsAre("farm-agent", "--device_id=pixel-8", "--port_file", "/tmp/a-b",
                          "-max_parallel=2", "pos-arg"));
}

TEST(NormalizeFlagNamesTest, NothingAfterDoubleDashAndNotArgv0) {
  EXPECT_THAT(NormalizeFlagNames({"--odd-name", "--a-b", "--", "--c-d"}),
              ElementsAre("--odd-name", "--a_b", "--", "--c-d"));
}

TEST(FromUserDirTest, RelativePathsAreTheUsersUnderBazelRun) {
  ::unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(FromUserDir("farm.db"), "farm.db");
  ::setenv("BUILD_WORKING_DIRECTORY", "/home/lab", 1);
  EXPECT_EQ(FromUserDir("farm.db"), "/home/lab/farm.db");
  EXPECT_EQ(FromUserDir("/var/farm.db"), "/var/farm.db");
  EXPECT_EQ(FromUserDir(""), "");
  ::unsetenv("BUILD_WORKING_DIRECTORY");
}

TEST(IsProjectFlagFileTest, OursButNotAbslOrExternal) {
  EXPECT_TRUE(IsProjectFlagFile("tools/farmctl/main.cc"));
  EXPECT_TRUE(IsProjectFlagFile("agent/main.cc"));
  EXPECT_FALSE(IsProjectFlagFile("absl/flags/internal/usage.cc"));
  EXPECT_FALSE(IsProjectFlagFile("/build/abseil-cpp/absl/flags/flag.cc"));
  EXPECT_FALSE(IsProjectFlagFile("external/benchmark/src/benchmark.cc"));
}

}  // namespace
}  // namespace kvmfarm
