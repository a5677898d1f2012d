#include "common/cpuinfo_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kvmfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(CpuinfoFieldsTest, OneMapPerProcessorAndTheGlobalLines) {
  const CpuinfoFields cpu = SplitCpuinfo(
      "processor\t: 0\nBogoMIPS\t: 38.40\nCPU part\t: 0xd80\n\n"
      "processor\t: 1\nCPU part\t: 0xd81\n\n"
      "Hardware\t: Qualcomm SM8650\nRevision\t: 0000\n");
  ASSERT_EQ(cpu.processors.size(), 2u);
  EXPECT_EQ(cpu.processors[0].at("CPU part"), "0xd80");
  EXPECT_EQ(cpu.processors[1].at("CPU part"), "0xd81");
  EXPECT_THAT(cpu.global,
              ElementsAre(Pair("Hardware", "Qualcomm SM8650"), Pair("Revision", "0000")));
  EXPECT_EQ(FirstProcessorField(cpu, "BogoMIPS"), "38.40");
  EXPECT_EQ(FirstProcessorField(cpu, "flags"), "");
}

TEST(CpuinfoFieldsTest, OldArmProcessorLineStartsNoBlock) {
  const CpuinfoFields cpu = SplitCpuinfo(
      "Processor\t: AArch64 Processor rev 4 (aarch64)\nprocessor\t: 0\nmodel name : x\n");
  ASSERT_EQ(cpu.processors.size(), 1u);
  EXPECT_EQ(cpu.global.at("Processor"), "AArch64 Processor rev 4 (aarch64)");
  EXPECT_EQ(FirstProcessorField(cpu, "model name"), "x");
}

TEST(CpuinfoFieldsTest, EmptyOrMissingGivesNoProcessors) {
  EXPECT_TRUE(SplitCpuinfo("").processors.empty());
  EXPECT_TRUE(SplitCpuinfo("no colons here\n").processors.empty());
  EXPECT_TRUE(ReadCpuinfo("/nonexistent/cpuinfo").processors.empty());
  EXPECT_EQ(FirstProcessorField(CpuinfoFields{}, "cpu MHz"), "");
}

}  // namespace
}  // namespace kvmfarm
