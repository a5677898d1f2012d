#include "agent/probe/identity.h"

#include "agent/probe/probe_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::HasSubstr;

TEST(ReadIdentityTest, AndroidPropsAndSocTable) {
  ScratchRoot root;
  root.Write("/proc/cpuinfo",
             "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
             "CPU part\t: 0xd80\n\nprocessor\t: 1\nCPU implementer\t: 0x41\n"
             "CPU architecture: 8\nCPU part\t: 0xd82\n");
  root.Write("/proc/version", "Linux version 6.1.57-android14 (x@y) #1 SMP\n");
  root.Write("/sys/devices/soc0/soc_id", "557\n");
  root.Write("/sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq", "3302400\n");
  Properties props(std::map<std::string, std::string>{{"ro.product.model", "CPH2581"},
                                                      {"ro.product.manufacturer", "OnePlus"},
                                                      {"ro.soc.manufacturer", "QTI"},
                                                      {"ro.serialno", "abc123"},
                                                      {"ro.build.version.release", "14"}});
  Checks checks;
  const IdentityResult result = ReadIdentity(Sysroot(root.path()), props, "", &checks);
  const farm::v1::DeviceIdentity& id = result.identity;
  EXPECT_EQ(id.device_id(), "abc123");
  EXPECT_EQ(id.model(), "CPH2581");
  EXPECT_EQ(id.soc_vendor(), "qualcomm");
  EXPECT_EQ(id.soc_model(), "SM8650");  // from soc_id 557 alone
  EXPECT_EQ(id.soc_marketing_name(), "Snapdragon 8 Gen 3");
  EXPECT_EQ(id.kernel_release(), "6.1.57-android14");
  EXPECT_EQ(id.android_release(), "14");
  EXPECT_EQ(id.abi(), "aarch64");
  EXPECT_TRUE(id.is_fixture());
  ASSERT_EQ(id.core_groups_size(), 2);
  EXPECT_EQ(id.core_groups(0).part_name(), "Cortex-X4");  // biggest first
  EXPECT_EQ(id.core_groups(0).max_frequency_khz(), 3302400u);
  EXPECT_FALSE(id.core_groups(1).has_max_frequency_khz());
  EXPECT_THAT(FindCheck(checks, "identity.cpu")->detail(),
              HasSubstr("2 CPUs: 1x Cortex-X4, 1x Cortex-A520"));
}

TEST(ReadIdentityTest, DeviceIdFlagWinsAndPcUsesDmi) {
  ScratchRoot root;
  root.Write("/proc/cpuinfo",
             "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763\n"
             "flags\t\t: fpu svm lm\n");
  root.Write("/sys/class/dmi/id/sys_vendor", "Supermicro\n");
  root.Write("/proc/sys/kernel/hostname", "rack3-node7\n");
  Checks checks;
  const IdentityResult result = ReadIdentity(Sysroot(root.path()), Properties(), "my-id", &checks);
  EXPECT_EQ(result.identity.device_id(), "my-id");
  EXPECT_EQ(result.identity.hostname(), "rack3-node7");
  EXPECT_EQ(result.identity.manufacturer(), "Supermicro");
  EXPECT_EQ(result.identity.soc_vendor(), "amd");
  EXPECT_EQ(result.identity.cpu_model_name(), "AMD EPYC 7763");
  ASSERT_TRUE(result.cpu.has_value());
  EXPECT_EQ(FindCheck(checks, "identity.soc")->outcome(), farm::v1::OUTCOME_SKIP);
}

TEST(ReadIdentityTest, MissingCpuinfoFailsTheCheckButNotTheProbe) {
  ScratchRoot root;
  Checks checks;
  const IdentityResult result = ReadIdentity(Sysroot(root.path()), Properties(), "", &checks);
  EXPECT_FALSE(result.cpu.has_value());
  EXPECT_EQ(FindCheck(checks, "identity.cpu")->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_EQ(result.identity.device_id(), "unknown-device");
}

}  // namespace
}  // namespace kvmfarm::probe
