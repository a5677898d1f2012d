#include "agent/vm/qemu_launch.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Dir(const std::string& name) {
  return kvmfarm::testing::FreshTestDir(absl::StrCat(".", name));
}

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

TEST(QemuLaunchTest, APlainBinaryRunsAsIs) {
  absl::StatusOr<QemuLaunch> launch = ResolveQemuLaunch("/usr/bin/qemu-system-aarch64");
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_THAT(launch->argv, ElementsAre("/usr/bin/qemu-system-aarch64"));
  EXPECT_EQ(launch->emulator, "qemu-system-aarch64");
  EXPECT_FALSE(launch->bundled);
  EXPECT_EQ(ResolveQemuLaunch("qemu-system-x86_64")->emulator, "qemu-system-x86_64");
}

TEST(QemuLaunchTest, ABundleStartsThroughItsLoader) {
  const std::string dir = Dir("bundle");
  Touch(dir + "/ld-linux-aarch64.so.1");
  Touch(dir + "/qemu-system-aarch64");
  mkdir((dir + "/lib").c_str(), 0755);
  absl::StatusOr<QemuLaunch> launch = ResolveQemuLaunch(dir);
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_TRUE(launch->bundled);
  EXPECT_EQ(launch->emulator, "qemu-system-aarch64");
  EXPECT_THAT(launch->argv,
              ElementsAre(dir + "/ld-linux-aarch64.so.1", "--inhibit-cache", "--library-path",
                          dir + "/lib", dir + "/qemu-system-aarch64"));
  // Firmware shipped in the bundle is QEMU's data directory.
  mkdir((dir + "/share").c_str(), 0755);
  mkdir((dir + "/share/qemu").c_str(), 0755);
  launch = ResolveQemuLaunch(dir);
  ASSERT_TRUE(launch.ok());
  EXPECT_THAT(launch->argv, ::testing::Contains("-L"));
  EXPECT_EQ(launch->argv.back(), dir + "/share/qemu");
}

TEST(QemuLaunchTest, AnIncompleteBundleSaysWhatIsMissing) {
  const std::string dir = Dir("incomplete");
  Touch(dir + "/qemu-system-aarch64");
  EXPECT_THAT(ResolveQemuLaunch(dir),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("not a QEMU bundle: no glibc's loader (ld-linux-*), no lib/")));
  const std::string two = Dir("two");
  Touch(two + "/ld-linux-x86-64.so.2");
  Touch(two + "/qemu-system-aarch64");
  Touch(two + "/qemu-system-x86_64");
  mkdir((two + "/lib").c_str(), 0755);
  EXPECT_THAT(ResolveQemuLaunch(two), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("a bundle carries one emulator")));
}

}  // namespace
}  // namespace kvmfarm::vm
