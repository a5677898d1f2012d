#include "common/testing/server_process.h"

#include <signal.h>

#include <memory>

#include "common/testing/run_binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<ServerProcess> StartChatter() {
  return std::make_unique<ServerProcess>(Runfile("common/testing/stderr_chatter"), "chatter",
                                         std::vector<std::string>{"--flag"});
}

TEST(ServerProcessTest, TheAddressComesFromTheServingLine) {
  std::unique_ptr<ServerProcess> chatter = StartChatter();
  EXPECT_EQ(chatter->WaitUntilListening(), "127.0.0.1:1");
  EXPECT_THAT(chatter->Log(), HasSubstr("chatter serving on 127.0.0.1:1"));
}

// Destroying it kills a server that is still logging; the lines drained after the
// kill go into a log that must still exist (a member order that destroyed the log
// first corrupted the heap of fleet_integration_test, 1 run in 20; under
// --config=asan this test reports that as a use after free).
TEST(ServerProcessTest, IsDestroyedSafelyWhileTheServerLogs) {
  for (int round = 0; round < 20; ++round) {
    std::unique_ptr<ServerProcess> chatter = StartChatter();
    ASSERT_FALSE(chatter->WaitUntilListening().empty());
    const pid_t pid = chatter->process().pid();
    chatter.reset();
    EXPECT_NE(::kill(pid, 0), 0) << "the server outlived its ServerProcess";
  }
}

}  // namespace
}  // namespace kvmfarm::testing
