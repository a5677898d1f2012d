#include "agent/probe/sysroot.h"

#include <string>

#include "agent/probe/probe_test_util.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A device's bytes need not be UTF-8; in a proto string field they would make the
// capability unparseable.
TEST(SysrootTest, TextIsValidUtf8AndBytesAreAsTheyAre) {
  ScratchRoot root;
  root.Write("/sys/devices/soc0/family",
             "Snap\xe0\x9a\x9d \xc3"
             "a\n");
  Sysroot sysroot(root.path());
  EXPECT_THAT(sysroot.ReadLine("/sys/devices/soc0/family"),
              IsOkAndHolds("Snap\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD"
                           "a"));
  EXPECT_THAT(sysroot.ReadBytes("/sys/devices/soc0/family"), IsOkAndHolds("Snap\xe0\x9a\x9d \xc3"
                                                                          "a\n"));
}

TEST(SysrootTest, ReadsBelowTheRoot) {
  ScratchRoot root;
  root.Write("/proc/version", "Linux version 6.1.75\n");
  Sysroot sysroot(root.path() + "/");
  EXPECT_FALSE(sysroot.is_host());
  EXPECT_EQ(sysroot.Resolve("/proc/version"), root.path() + "/proc/version");
  EXPECT_THAT(sysroot.ReadFile("/proc/version"), IsOkAndHolds("Linux version 6.1.75\n"));
  EXPECT_THAT(sysroot.ReadLine("/proc/version"), IsOkAndHolds("Linux version 6.1.75"));
  EXPECT_TRUE(sysroot.Exists("/proc/version"));
  EXPECT_FALSE(sysroot.Exists("/dev/kvm"));
}

TEST(SysrootTest, MissingFileIsNotFoundNamingThePath) {
  ScratchRoot root;
  Sysroot sysroot(root.path());
  EXPECT_THAT(sysroot.ReadFile("/proc/cpuinfo"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/proc/cpuinfo")));
  EXPECT_THAT(sysroot.Stat("/dev/kvm"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SysrootTest, RefusesHugeFiles) {
  ScratchRoot root;
  root.Write("/dmesg.txt", std::string(200000, 'x'));
  Sysroot sysroot(root.path());
  EXPECT_THAT(sysroot.ReadFile("/dmesg.txt", 100000),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("larger than 100000")));
  EXPECT_THAT(sysroot.ReadFile("/dmesg.txt", 300000), ::kvmfarm::testing::IsOk());
}

TEST(SysrootTest, HostReadsProcFilesThatReportSizeZero) {
  Sysroot host("/");
  EXPECT_TRUE(host.is_host());
  EXPECT_EQ(host.root(), "/");
  absl::StatusOr<std::string> status = host.ReadFile("/proc/self/status");
  ASSERT_THAT(status, ::kvmfarm::testing::IsOk());
  EXPECT_THAT(*status, StartsWith("Name:"));
}

}  // namespace
}  // namespace kvmfarm::probe
