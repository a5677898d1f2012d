#include "agent/probe/kernel_log.h"

#include <string>

#include "agent/probe/probe_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::Contains;
using ::testing::HasSubstr;

farm::v1::BootModeEvidence Parse(const std::string& log) {
  farm::v1::BootModeEvidence evidence;
  ParseKernelLog(log, &evidence);
  return evidence;
}

// This project's build machines: x86-64 guests of a paravirtual hypervisor.
TEST(ParseKernelLogTest, TheHypervisorAnX86KernelRunsUnderIsNamed) {
  farm::v1::BootModeEvidence evidence;
  ParseKernelLog(
      "[    0.000000] Hypervisor detected: PVM\n"
      "[    1.234567] kvm-pvm: this kernel is itself a kvm-pvm guest; not binding\n",
      &evidence);
  EXPECT_EQ(evidence.hypervisor_detected(), "PVM");
  EXPECT_THAT(evidence.evidence_lines(),
              Contains("kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"));
}

TEST(ParseKernelLogTest, El2WithProtectedNvhe) {
  const farm::v1::BootModeEvidence e = Parse(
      "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd461]\n"
      "[    0.061512] CPU: All CPU(s) started at EL2\n"
      "[    0.104853] kvm [1]: IPA Size Limit: 40 bits\n"
      "[    0.109771] kvm [1]: Protected nVHE mode initialized successfully\n");
  EXPECT_EQ(e.exception_level(), farm::v1::EXCEPTION_LEVEL_EL2);
  EXPECT_EQ(e.kvm_arm_mode(), farm::v1::KVM_ARM_MODE_PROTECTED);
  EXPECT_EQ(e.ipa_size_limit_bits(), 40u);
  EXPECT_THAT(e.evidence_lines(), Contains("CPU: All CPU(s) started at EL2"));
}

TEST(ParseKernelLogTest, NvheVariantsAndVhe) {
  EXPECT_EQ(Parse("kvm [1]: Hyp mode initialized successfully\n").kvm_arm_mode(),
            farm::v1::KVM_ARM_MODE_NVHE);
  EXPECT_EQ(Parse("kvm [1]: Hyp nVHE mode initialized successfully\n").kvm_arm_mode(),
            farm::v1::KVM_ARM_MODE_NVHE);
  EXPECT_EQ(Parse("kvm [1]: VHE mode initialized successfully\n").kvm_arm_mode(),
            farm::v1::KVM_ARM_MODE_VHE);
}

TEST(ParseKernelLogTest, El1AndHypModeNotAvailable) {
  const farm::v1::BootModeEvidence e = Parse(
      "[    0.002] CPU: All CPU(s) started at EL1\n"
      "[    0.430] kvm [1]: HYP mode not available\n");
  EXPECT_EQ(e.exception_level(), farm::v1::EXCEPTION_LEVEL_EL1);
  EXPECT_EQ(e.kvm_arm_mode(), farm::v1::KVM_ARM_MODE_NONE);
  EXPECT_EQ(Parse("CPU: CPU(s) started in inconsistent modes\n").exception_level(),
            farm::v1::EXCEPTION_LEVEL_INCONSISTENT);
}

TEST(ParseKernelLogTest, GarbageAndEmptyDecideNothing) {
  EXPECT_EQ(Parse("").exception_level(), farm::v1::EXCEPTION_LEVEL_UNSPECIFIED);
  const farm::v1::BootModeEvidence e = Parse(std::string(100000, '\xff') + "\n[ 1.0\n");
  EXPECT_EQ(e.exception_level(), farm::v1::EXCEPTION_LEVEL_UNSPECIFIED);
  EXPECT_EQ(e.evidence_lines_size(), 0);
}

TEST(ReadBootModeEvidenceTest, FixtureWithoutLogIsSkipWithReason) {
  ScratchRoot root;
  farm::v1::BootModeEvidence evidence;
  Checks checks;
  ReadBootModeEvidence(Sysroot(root.path()), farm::v1::CPU_ARCH_ARM64, &evidence, &checks);
  EXPECT_FALSE(evidence.log_readable());
  EXPECT_THAT(evidence.log_unreadable_reason(), HasSubstr("dmesg.txt"));
  EXPECT_EQ(evidence.exception_level(), farm::v1::EXCEPTION_LEVEL_UNKNOWN);
  ASSERT_EQ(checks.size(), 1);
  EXPECT_EQ(checks[0].outcome(), farm::v1::OUTCOME_SKIP);
}

TEST(ReadBootModeEvidenceTest, Arm64ChecksFromTheLog) {
  ScratchRoot root;
  root.Write("/dmesg.txt",
             "[    0.0] CPU: All CPU(s) started at EL1\n"
             "[    0.4] kvm [1]: HYP mode not available\n");
  farm::v1::BootModeEvidence evidence;
  Checks checks;
  ReadBootModeEvidence(Sysroot(root.path()), farm::v1::CPU_ARCH_ARM64, &evidence, &checks);
  const farm::v1::Check* el = FindCheck(checks, "boot.exception_level");
  ASSERT_NE(el, nullptr);
  EXPECT_EQ(el->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(el->detail(), HasSubstr("started at EL1"));
  const farm::v1::Check* mode = FindCheck(checks, "kvm.arm_mode");
  ASSERT_NE(mode, nullptr);
  EXPECT_EQ(mode->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_EQ(mode->detail(), "kvm [1]: HYP mode not available");
}

TEST(ReadBootModeEvidenceTest, X86HasNoExceptionLevelChecks) {
  ScratchRoot root;
  root.Write("/dmesg.txt", "[ 0.36] kvm-pvm: loaded (native=1)\n");
  farm::v1::BootModeEvidence evidence;
  Checks checks;
  ReadBootModeEvidence(Sysroot(root.path()), farm::v1::CPU_ARCH_X86_64, &evidence, &checks);
  EXPECT_TRUE(evidence.log_readable());
  EXPECT_EQ(evidence.exception_level(), farm::v1::EXCEPTION_LEVEL_NOT_APPLICABLE);
  EXPECT_THAT(evidence.evidence_lines(), Contains("kvm-pvm: loaded (native=1)"));
  EXPECT_TRUE(checks.empty());
}

}  // namespace
}  // namespace kvmfarm::probe
