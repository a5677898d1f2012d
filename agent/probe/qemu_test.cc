#include "agent/probe/qemu.h"

#include <cstdlib>

#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseAccelHelpTest, ListsAccelerators) {
  EXPECT_THAT(ParseAccelHelp("Accelerators supported in QEMU binary:\ntcg\nkvm\n"),
              ElementsAre("tcg", "kvm"));
  EXPECT_THAT(ParseAccelHelp(""), ElementsAre());
}

TEST(FindQemuTest, FixtureSysrootNeverRunsHostQemu) {
  Checks checks;
  EXPECT_TRUE(FindQemu(Sysroot("/nonexistent-fixture"), "", &checks).empty());
  EXPECT_EQ(checks[0].outcome(), farm::v1::OUTCOME_SKIP);
}

TEST(FindQemuTest, MissingQemuFlagIsAFailedCheck) {
  Checks checks;
  EXPECT_TRUE(FindQemu(Sysroot("/"), "/nonexistent/qemu-system-x86_64", &checks).empty());
  EXPECT_EQ(checks[0].outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(checks[0].detail(), HasSubstr("/nonexistent/qemu-system-x86_64"));
}

// The real QEMU that tools/setup.sh installs.
TEST(QueryQemuTest, ThisMachinesQemu) {
  const char* path_env = std::getenv("PATH");
  absl::StatusOr<std::string> path =
      FindProgram("qemu-system-x86_64", path_env ? path_env : "/usr/bin");
  if (!path.ok()) GTEST_SKIP() << "no QEMU here: " << path.status();
  absl::StatusOr<farm::v1::QemuBinary> qemu = QueryQemu(*path);
  ASSERT_TRUE(qemu.ok()) << qemu.status();
  EXPECT_THAT(qemu->version(), StartsWith("QEMU emulator version"));
  EXPECT_THAT(qemu->accelerators(), ::testing::Contains("tcg"));
  EXPECT_EQ(qemu->guest_arch(), farm::v1::CPU_ARCH_X86_64);
}

}  // namespace
}  // namespace kvmfarm::probe
