#include "agent/probe/cpuinfo.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ArmCpu(int id, const char* part) {
  return absl::StrCat("processor\t: ", id,
                      "\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm aes\n"
                      "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
                      "CPU part\t: ",
                      part, "\nCPU revision\t: 1\n\n");
}

TEST(ParseCpuinfoTest, Arm64BigLittleGroupsCoresByDesign) {
  std::string text;
  for (int i = 0; i < 2; ++i) text += ArmCpu(i, "0xd80");
  for (int i = 2; i < 7; ++i) text += ArmCpu(i, "0xd81");
  text += ArmCpu(7, "0xd82");
  absl::StatusOr<CpuInfo> info = ParseCpuinfo(text);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->arch, farm::v1::CPU_ARCH_ARM64);
  EXPECT_EQ(info->logical_cpus, 8);
  ASSERT_EQ(info->groups.size(), 3u);
  EXPECT_EQ(info->groups[0].part_name, "Cortex-A520");
  EXPECT_THAT(info->groups[0].cpu_ids, ElementsAre(0, 1));
  EXPECT_EQ(info->groups[1].part_name, "Cortex-A720");
  EXPECT_EQ(info->groups[1].cpu_ids.size(), 5u);
  EXPECT_EQ(info->groups[2].part_name, "Cortex-X4");
  EXPECT_EQ(info->groups[2].implementer, "0x41");
  EXPECT_EQ(info->groups[2].part_id, "0xd82");
  EXPECT_TRUE(info->virt_flags.empty());
}

TEST(ParseCpuinfoTest, QualcommKryoAndUnknownParts) {
  std::string kryo = ArmCpu(0, "0x801");
  kryo.replace(kryo.find("0x41"), 4, "0x51");
  std::string unknown = ArmCpu(1, "0xfff");
  absl::StatusOr<CpuInfo> info = ParseCpuinfo(kryo + unknown);
  ASSERT_THAT(info, IsOk());
  ASSERT_EQ(info->groups.size(), 2u);
  EXPECT_EQ(info->groups[0].part_name, "Kryo 280 Silver");
  EXPECT_EQ(info->groups[1].part_name, "unknown part 0x41/0xfff");
}

TEST(ParseCpuinfoTest, X86ModelNameAndVirtualizationFlags) {
  const std::string cpu =
      "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
      "model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
      "flags\t\t: fpu vme de pse tsc msr pae vmx lm constant_tsc hypervisor\n\n";
  absl::StatusOr<CpuInfo> info =
      ParseCpuinfo(cpu + std::string(cpu).replace(cpu.find(": 0"), 3, ": 1"));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->arch, farm::v1::CPU_ARCH_X86_64);
  EXPECT_EQ(info->logical_cpus, 2);
  EXPECT_EQ(info->model_name, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
  EXPECT_EQ(info->vendor_id, "GenuineIntel");
  EXPECT_THAT(info->virt_flags, ElementsAre("vmx", "hypervisor"));
  ASSERT_EQ(info->groups.size(), 1u);
  EXPECT_THAT(info->groups[0].cpu_ids, ElementsAre(0, 1));
}

TEST(ParseCpuinfoTest, EmptyAndGarbledInputsAreClearErrors) {
  EXPECT_THAT(ParseCpuinfo(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ParseCpuinfo("  \n\n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCpuinfo("\x7f"
                           "ELF\x02\x01\x01 binary junk : here"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("processor")));
}

TEST(ParseCpuinfoTest, TruncatedInputKeepsWhatIsComplete) {
  const std::string text = ArmCpu(0, "0xd80") + "processor\t: 1\nCPU impl";
  absl::StatusOr<CpuInfo> info = ParseCpuinfo(text);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->logical_cpus, 2);
  EXPECT_EQ(info->groups[0].part_name, "Cortex-A520");
}

TEST(ParseCpuinfoTest, HugeInputParsesWithoutTrouble) {
  std::string text;
  for (int i = 0; i < 4096; ++i) text += ArmCpu(i, i % 2 ? "0xd81" : "0xd80");
  absl::StatusOr<CpuInfo> info = ParseCpuinfo(text);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->logical_cpus, 4096);
  EXPECT_EQ(info->groups.size(), 4096u);  // alternating designs never merge
}

TEST(ArmCoreNameTest, KnownAndUnknown) {
  EXPECT_EQ(ArmCoreName("0x41", "0xd4e"), "Cortex-X3");
  EXPECT_EQ(ArmCoreName("0x41", "0xd46"), "Cortex-A510");
  EXPECT_EQ(ArmCoreName("0x51", "0x800"), "Kryo 280 Gold");
  EXPECT_EQ(ArmCoreName("0x42", "0xd4e"), "");
}

}  // namespace
}  // namespace kvmfarm::probe
