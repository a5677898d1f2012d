#include "agent/probe/host_hypervisor.h"

#include "agent/probe/probe_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::HasSubstr;

TEST(CpuidSignatureTest, ReadsTheRegistersAsLittleEndianText) {
  // "KVMKVMKVM\0\0\0", as KVM answers.
  EXPECT_EQ(CpuidSignature(0x4b4d564b, 0x564b4d56, 0x0000004d), "KVMKVMKVM");
  // "bhyve bhyve ", as this project's PVM hosts answer: the trailing space stays.
  EXPECT_EQ(CpuidSignature(0x76796862, 0x68622065, 0x20657679), "bhyve bhyve ");
  EXPECT_EQ(CpuidSignature(0xffffff01, 0, 0), "");
}

farm::v1::KvmCapability X86(std::initializer_list<const char*> flags, const char* log_names) {
  farm::v1::KvmCapability c;
  c.mutable_device()->set_cpu_arch(farm::v1::CPU_ARCH_X86_64);
  for (const char* flag : flags) c.add_cpu_virt_flags(flag);
  c.mutable_boot_mode()->set_hypervisor_detected(log_names);
  return c;
}

// The kernel log names the host; CPUID and /sys/hypervisor are shown beside it.
TEST(ReadHostHypervisorTest, TheKernelLogNamesTheHostAndTheRestIsEvidence) {
  ScratchRoot root;
  root.Write("/cpuid_hypervisor.txt", "bhyve bhyve \n");
  farm::v1::KvmCapability c = X86({"hypervisor"}, "PVM");
  Checks checks;
  *c.mutable_host_hypervisor() = ReadHostHypervisor(Sysroot(root.path()), c, &checks);
  EXPECT_EQ(c.host_hypervisor().name(), "PVM");
  EXPECT_EQ(c.host_hypervisor().cpuid_signature(), "bhyve bhyve ");
  EXPECT_TRUE(c.host_hypervisor().cpu_flag());
  const farm::v1::Check* check = FindCheck(checks, "hypervisor.host");
  ASSERT_NE(check, nullptr);
  EXPECT_THAT(check->detail(), HasSubstr("guest of PVM"));
  EXPECT_THAT(check->detail(), HasSubstr("CPUID 0x40000000: \"bhyve bhyve \""));
  EXPECT_EQ(X86HostWithoutVirtualization(c),
            "the PVM hypervisor (kernel log: Hypervisor detected: PVM; CPUID 0x40000000: "
            "\"bhyve bhyve \"; the CPU's hypervisor flag)");
}

TEST(ReadHostHypervisorTest, WithoutTheLogSysHypervisorThenCpuidName) {
  ScratchRoot root;
  root.Write("/cpuid_hypervisor.txt", "KVMKVMKVM\n");
  farm::v1::KvmCapability c = X86({"hypervisor"}, "");
  Checks checks;
  EXPECT_EQ(ReadHostHypervisor(Sysroot(root.path()), c, &checks).name(), "KVMKVMKVM");
  root.Write("/sys/hypervisor/type", "xen\n");
  EXPECT_EQ(ReadHostHypervisor(Sysroot(root.path()), c, &checks).name(), "xen");
}

TEST(ReadHostHypervisorTest, NothingForArmOrBareMetal) {
  ScratchRoot root;
  root.Write("/cpuid_hypervisor.txt", "KVMKVMKVM\n");
  farm::v1::KvmCapability arm;
  arm.mutable_device()->set_cpu_arch(farm::v1::CPU_ARCH_ARM64);
  Checks checks;
  EXPECT_EQ(ReadHostHypervisor(Sysroot(root.path()), arm, &checks).ByteSizeLong(), 0u);
  ScratchRoot bare;
  EXPECT_EQ(ReadHostHypervisor(Sysroot(bare.path()), X86({"vmx"}, ""), &checks).ByteSizeLong(), 0u);
  EXPECT_TRUE(checks.empty());
}

TEST(X86HostWithoutVirtualizationTest, OnlyAGuestWithoutVmxOrSvm) {
  EXPECT_EQ(X86HostWithoutVirtualization(X86({"vmx", "hypervisor"}, "KVM")), std::nullopt)
      << "a nesting host passes vmx on";
  EXPECT_EQ(X86HostWithoutVirtualization(X86({}, "")), std::nullopt) << "bare metal, no VT-x";
  EXPECT_EQ(X86HostWithoutVirtualization(X86({"hypervisor"}, "")),
            "a hypervisor (the CPU's hypervisor flag)");
  EXPECT_EQ(X86HostWithoutVirtualization(X86({}, "PVM")),
            "the PVM hypervisor (kernel log: Hypervisor detected: PVM)");
}

}  // namespace
}  // namespace kvmfarm::probe
