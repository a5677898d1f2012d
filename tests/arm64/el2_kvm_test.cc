// Real arm64 KVM without an arm64 machine: QEMU emulates a Cortex-A72 with EL2
// (-M virt,virtualization=on), Debian's arm64 kernel boots on it at EL2 and has a
// /dev/kvm, and the static arm64 farm-agent in the initramfs probes it: the arm64
// smoke test runs a vCPU on that KVM, and the EL2 / EL1 / protected-mode evidence
// comes from the real kernel log. Nothing here is a fixture.
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/subprocess.h"
#include "common/testing/run_binary.h"
#include "farm/v1/common.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/arm64/emulated_arm64.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::RunCommand;
using ::kvmfarm::testing::Runfile;
using ::testing::HasSubstr;

struct GuestProbe {
  farm::v1::KvmCapability capability;
  std::string console;
};

// Boots the probe guest (`initramfs`, a runfile) on an emulated arm64 machine with
// `machine_options` and `kernel_args`, and parses what the agent printed.
GuestProbe ProbeInEmulatedArm64(const std::string& machine_options, const std::string& kernel_args,
                                const std::string& initramfs = "tests/arm64/el2_initramfs.cpio.gz",
                                int memory_mib = 512) {
  testing::EmulatedArm64 machine;
  machine.machine_options = machine_options;
  machine.kernel_args = kernel_args;
  machine.initramfs = initramfs;
  machine.memory_mib = memory_mib;
  const ProcessResult result = RunCommand(testing::EmulatedArm64Command(machine), {});
  GuestProbe probe;
  probe.console = result.stdout_data;
  EXPECT_EQ(result.exit_code, 0) << result.Describe() << result.stderr_data;
  const size_t begin = probe.console.find("FARM_PROBE_BEGIN");
  const size_t end = probe.console.find("FARM_PROBE_END");
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    ADD_FAILURE() << "no probe output in the console:\n" << probe.console;
    return probe;
  }
  const std::string json = probe.console.substr(begin + 16, end - begin - 16);
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &probe.capability).ok()) << json;
  return probe;
}

const farm::v1::Check* FindCheck(const farm::v1::KvmCapability& c, const std::string& name) {
  for (const farm::v1::Check& check : c.checks()) {
    if (check.name() == name) return &check;
  }
  return nullptr;
}

TEST(El2KvmTest, KernelAtEl2HasAKvmTheArm64SmokeTestRuns) {
  const GuestProbe probe = ProbeInEmulatedArm64("virtualization=on", "");
  const farm::v1::KvmCapability& c = probe.capability;
  EXPECT_EQ(c.device().cpu_arch(), farm::v1::CPU_ARCH_ARM64) << probe.console;
  EXPECT_EQ(c.boot_mode().exception_level(), farm::v1::EXCEPTION_LEVEL_EL2);
  EXPECT_EQ(c.boot_mode().kvm_arm_mode(), farm::v1::KVM_ARM_MODE_NVHE);
  EXPECT_EQ(c.hypervisor_kind(), farm::v1::HYPERVISOR_KIND_KVM);
  EXPECT_TRUE(c.kvm_node().opened());
  EXPECT_EQ(c.kvm_node().api_version(), 12);
  EXPECT_EQ(c.kvm_node().smoke_test().outcome(), farm::v1::OUTCOME_PASS)
      << c.kvm_node().smoke_test().DebugString();
  EXPECT_THAT(c.kvm_node().smoke_test().detail(), HasSubstr("0x42"));
  // The guest has no QEMU: the boot can't be tried, and the verdict says so.
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
  EXPECT_THAT(absl::StrJoin(c.verdict_reasons(), "\n"), HasSubstr("no QEMU on the device"));
  EXPECT_TRUE(c.agent_user().is_root());
  EXPECT_EQ(c.agent_user().name(), "root");
}

TEST(El2KvmTest, ProtectedModeIsPkvmAndStillRunsTheSmokeTest) {
  const GuestProbe probe = ProbeInEmulatedArm64("virtualization=on", "kvm-arm.mode=protected");
  const farm::v1::KvmCapability& c = probe.capability;
  EXPECT_EQ(c.boot_mode().exception_level(), farm::v1::EXCEPTION_LEVEL_EL2) << probe.console;
  EXPECT_EQ(c.boot_mode().kvm_arm_mode(), farm::v1::KVM_ARM_MODE_PROTECTED);
  EXPECT_EQ(c.hypervisor_kind(), farm::v1::HYPERVISOR_KIND_PKVM);
  const farm::v1::Check* mode = FindCheck(c, "kvm.arm_mode");
  ASSERT_NE(mode, nullptr);
  EXPECT_THAT(mode->detail(), HasSubstr("Protected nVHE mode initialized successfully"));
  EXPECT_EQ(c.kvm_node().smoke_test().outcome(), farm::v1::OUTCOME_PASS);
}

TEST(El2KvmTest, KernelAtEl1HasNoHypervisorMode) {
  const GuestProbe probe = ProbeInEmulatedArm64("virtualization=off", "");
  const farm::v1::KvmCapability& c = probe.capability;
  EXPECT_EQ(c.boot_mode().exception_level(), farm::v1::EXCEPTION_LEVEL_EL1) << probe.console;
  EXPECT_EQ(c.boot_mode().kvm_arm_mode(), farm::v1::KVM_ARM_MODE_NONE);
  EXPECT_FALSE(c.kvm_node().present());
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
  EXPECT_THAT(absl::StrJoin(c.verdict_reasons(), "\n"), HasSubstr("HYP mode not available"));
}

// `adb shell` without su: the agent runs as uid 2000 with no /etc/passwd, and
// /dev/kvm is root's (0600, as devtmpfs makes it). The KVM is there and works for
// root; the verdict says this user can't use it, and names the user. (The same
// machine as root: KernelAtEl2HasAKvmTheArm64SmokeTestRuns.)
TEST(El2KvmTest, AsTheShellUserKvmIsThereButNotUsable) {
  const GuestProbe probe = ProbeInEmulatedArm64("virtualization=on", "farm.test=shell");
  const farm::v1::KvmCapability& c = probe.capability;
  EXPECT_EQ(c.agent_user().uid(), 2000u) << probe.console;
  EXPECT_EQ(c.agent_user().name(), "shell");
  EXPECT_FALSE(c.agent_user().is_root());
  // The kernel denies its log to this user, so where the kernel started is not
  // known, and the probe says so rather than guessing EL2 from /dev/kvm.
  const farm::v1::Check* log = FindCheck(c, "kernel.log");
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->outcome(), farm::v1::OUTCOME_SKIP);
  EXPECT_THAT(log->detail(), HasSubstr("Operation not permitted"));
  EXPECT_EQ(c.boot_mode().exception_level(), farm::v1::EXCEPTION_LEVEL_UNKNOWN);
  EXPECT_TRUE(c.kvm_node().present());
  EXPECT_FALSE(c.kvm_node().opened());
  EXPECT_EQ(c.hypervisor_kind(), farm::v1::HYPERVISOR_KIND_KVM);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_THAT(absl::StrJoin(c.verdict_reasons(), "\n"), HasSubstr("shell (uid 2000)"));
  for (const farm::v1::Check& check : c.checks()) {
    std::cout << check.name() << " [" << farm::v1::Outcome_Name(check.outcome())
              << "]: " << check.detail() << "\n";
  }
}

// The whole phone story, no phone: the static agent in the phone's layout, with
// Debian's glibc-linked arm64 QEMU started through its bundled loader, boots a
// Linux guest under the (emulated machine's real) KVM: KVM_READY.
TEST(El2KvmTest, PhoneLayoutBootsAGuestUnderKvmThroughTheQemuBundle) {
  const GuestProbe probe =
      ProbeInEmulatedArm64("virtualization=on", "farm.test=probe",
                           "tests/arm64/phone_initramfs.cpio.gz", /*memory_mib=*/1536);
  const farm::v1::KvmCapability& c = probe.capability;
  ASSERT_EQ(c.qemu_size(), 1) << probe.console;
  EXPECT_TRUE(c.qemu(0).bundled());
  EXPECT_EQ(c.qemu(0).path(), "/data/local/tmp/kvmfarm/qemu");
  EXPECT_TRUE(c.qemu(0).kvm_supported());
  EXPECT_TRUE(c.kvm_boot_check().succeeded()) << c.kvm_boot_check().failure_reason() << "\n"
                                              << probe.console;
  EXPECT_EQ(c.kvm_boot_check().guest_arch(), farm::v1::CPU_ARCH_ARM64);
  EXPECT_EQ(c.kvm_boot_check().guest().image(), "arm64-debian");
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_READY);
  // Debian's kernel under the emulated KVM, split into its stages.
  ASSERT_EQ(c.kvm_boot_check().vms_size(), 1);
  EXPECT_TRUE(c.kvm_boot_check().vms(0).has_stages()) << c.kvm_boot_check().vms(0).stages_note();
  std::cout << "boot stages: " << c.kvm_boot_check().vms(0).stages().ShortDebugString() << "\n";
  // For the record (bazel test --test_output=all).
  for (const farm::v1::Check& check : c.checks()) {
    std::cout << check.name() << ": " << check.detail() << "\n";
  }
}

}  // namespace
}  // namespace kvmfarm
