#include "agent/probe/verdict.h"

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

farm::v1::KvmCapability WorkingKvm() {
  farm::v1::KvmCapability c;
  c.mutable_kvm_node()->set_present(true);
  c.mutable_kvm_node()->set_opened(true);
  c.mutable_kvm_node()->set_api_version(12);
  c.mutable_kvm_node()->mutable_smoke_test()->set_outcome(farm::v1::OUTCOME_PASS);
  c.mutable_kvm_node()->mutable_smoke_test()->set_detail("KVM_EXIT_HLT");
  c.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_KVM);
  farm::v1::QemuBinary* qemu = c.add_qemu();
  qemu->set_kvm_supported(true);
  return c;
}

std::string AllReasons(const farm::v1::KvmCapability& c) {
  std::string all;
  for (const std::string& r : c.verdict_reasons()) all += r + "\n";
  return all;
}

TEST(DecideVerdictTest, Row1NoAccessWinsOverEverythingBelow) {
  farm::v1::KvmCapability c;
  c.mutable_kvm_node()->set_present(true);
  c.mutable_kvm_node()->set_open_errno(13);
  c.mutable_boot_mode()->set_exception_level(farm::v1::EXCEPTION_LEVEL_EL1);
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_THAT(AllReasons(c), HasSubstr("Permission denied"));
  EXPECT_THAT(c.recommendation(), HasSubstr("TCG only"));
  EXPECT_FALSE(c.to_change_verdict().empty());
}

TEST(DecideVerdictTest, NoAccessNamesTheUserTheAgentRunsAs) {
  farm::v1::KvmCapability c;
  c.mutable_kvm_node()->set_present(true);
  c.mutable_kvm_node()->set_open_errno(13);
  c.mutable_agent_user()->set_uid(2000);
  c.mutable_agent_user()->set_name("shell");
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_THAT(AllReasons(c), HasSubstr("fails for user shell (uid 2000)"));
  EXPECT_THAT(absl::StrJoin(c.to_change_verdict(), "\n"), HasSubstr("as root (su)"));
}

TEST(DecideVerdictTest, AnUnansweredApiVersionIsUnusableAndSaysWhy) {
  farm::v1::KvmCapability c = WorkingKvm();
  c.mutable_kvm_node()->set_api_version(-1);
  c.mutable_kvm_node()->clear_smoke_test();
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_UNUSABLE);
  EXPECT_THAT(AllReasons(c), HasSubstr("does not answer KVM_GET_API_VERSION"));
}

TEST(DecideVerdictTest, Row2SmokeTestFailureOrWrongApiIsUnusable) {
  farm::v1::KvmCapability c = WorkingKvm();
  c.mutable_kvm_node()->mutable_smoke_test()->set_outcome(farm::v1::OUTCOME_FAIL);
  c.mutable_kvm_node()->mutable_smoke_test()->set_detail("KVM_CREATE_VCPU failed");
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_UNUSABLE);
  EXPECT_THAT(AllReasons(c), HasSubstr("KVM_CREATE_VCPU failed"));

  farm::v1::KvmCapability old_api = WorkingKvm();
  old_api.mutable_kvm_node()->set_api_version(11);
  DecideVerdict(&old_api);
  EXPECT_EQ(old_api.verdict(), farm::v1::VERDICT_KVM_UNUSABLE);
}

TEST(DecideVerdictTest, Rows3And4FollowTheRealGuestBoot) {
  farm::v1::KvmCapability ready = WorkingKvm();
  ready.mutable_kvm_boot_check()->set_succeeded(true);
  DecideVerdict(&ready);
  EXPECT_EQ(ready.verdict(), farm::v1::VERDICT_KVM_READY);
  EXPECT_THAT(ready.recommendation(), HasSubstr("use KVM"));

  farm::v1::KvmCapability failed = WorkingKvm();
  failed.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_PVM);
  failed.mutable_kvm_boot_check()->set_succeeded(false);
  failed.mutable_kvm_boot_check()->set_failure_reason("no boot marker within 20 s");
  DecideVerdict(&failed);
  EXPECT_EQ(failed.verdict(), farm::v1::VERDICT_KVM_BOOT_FAILED);
  EXPECT_THAT(AllReasons(failed), HasSubstr("no boot marker within 20 s"));
  EXPECT_THAT(AllReasons(failed), HasSubstr("kvm_pvm"));
}

TEST(DecideVerdictTest, Row5SaysWhyTheBootWasNotRun) {
  farm::v1::KvmCapability no_qemu = WorkingKvm();
  no_qemu.clear_qemu();
  DecideVerdict(&no_qemu);
  EXPECT_EQ(no_qemu.verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
  EXPECT_THAT(AllReasons(no_qemu), HasSubstr("no QEMU on the device"));

  farm::v1::KvmCapability tcg_only_qemu = WorkingKvm();
  tcg_only_qemu.mutable_qemu(0)->set_kvm_supported(false);
  DecideVerdict(&tcg_only_qemu);
  EXPECT_EQ(tcg_only_qemu.verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
  EXPECT_THAT(AllReasons(tcg_only_qemu), HasSubstr("no KVM accelerator"));

  farm::v1::KvmCapability fixture = WorkingKvm();
  fixture.mutable_device()->set_is_fixture(true);
  DecideVerdict(&fixture);
  EXPECT_THAT(AllReasons(fixture), HasSubstr("not recorded for this fixture"));
}

TEST(DecideVerdictTest, Row6VendorHypervisorBeforeEl1) {
  farm::v1::KvmCapability c;
  c.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_GUNYAH);
  c.add_vendor_hypervisor_evidence("/dev/gunyah exists (Qualcomm Gunyah)");
  c.mutable_boot_mode()->set_exception_level(farm::v1::EXCEPTION_LEVEL_EL1);
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_THAT(c.verdict_reasons(), Contains("/dev/gunyah exists (Qualcomm Gunyah)"));
  EXPECT_THAT(c.to_change_verdict(0), HasSubstr("Gunyah tooling"));
}

TEST(DecideVerdictTest, Row7El1BeforeKernelConfig) {
  farm::v1::KvmCapability c;
  c.mutable_boot_mode()->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_NONE);
  c.mutable_kernel()->set_config_kvm(false);
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
}

TEST(DecideVerdictTest, Row8KernelWithoutKvm) {
  farm::v1::KvmCapability c;
  c.mutable_kernel()->set_config_source("/proc/config.gz");
  c.mutable_kernel()->set_config_kvm(false);
  c.mutable_kernel()->set_config_virtualization(true);
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_NOT_IN_KERNEL);
  EXPECT_THAT(AllReasons(c), HasSubstr("no CONFIG_KVM"));
}

TEST(DecideVerdictTest, Row9UnknownSaysWhatWasMissing) {
  farm::v1::KvmCapability c;
  c.mutable_boot_mode()->set_log_readable(false);
  c.mutable_boot_mode()->set_log_unreadable_reason("dmesg: Operation not permitted");
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_UNKNOWN);
  EXPECT_THAT(AllReasons(c), HasSubstr("kernel config is not readable"));
  EXPECT_THAT(AllReasons(c), HasSubstr("Operation not permitted"));

  farm::v1::KvmCapability module_missing;
  module_missing.mutable_kernel()->set_config_kvm(true);
  module_missing.mutable_kernel()->set_config_virtualization(true);
  DecideVerdict(&module_missing);
  EXPECT_EQ(module_missing.verdict(), farm::v1::VERDICT_UNKNOWN);
  EXPECT_THAT(AllReasons(module_missing), HasSubstr("module is not loaded"));
  EXPECT_THAT(module_missing.to_change_verdict(),
              ::testing::Contains(HasSubstr("load the kvm module")));
}

// An x86-64 guest of a hypervisor that does not nest: decidable, and the kernel
// log names the host.
TEST(DecideVerdictTest, Row7AnX86GuestWithoutVmxHasNoHypervisorMode) {
  farm::v1::KvmCapability c;
  c.mutable_device()->set_cpu_arch(farm::v1::CPU_ARCH_X86_64);
  c.mutable_agent_user()->set_is_root(true);
  c.mutable_kernel()->set_config_kvm(true);
  c.mutable_kernel()->set_config_virtualization(true);
  c.mutable_kernel()->set_kvm_module_present(true);
  c.add_cpu_virt_flags("hypervisor");
  c.mutable_boot_mode()->set_log_readable(true);
  c.mutable_boot_mode()->set_hypervisor_detected("PVM");
  c.mutable_boot_mode()->add_evidence_lines(
      "kvm-pvm: this kernel is itself a kvm-pvm guest; not binding");
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
  EXPECT_THAT(AllReasons(c), HasSubstr("a guest of the PVM hypervisor (kernel log: Hypervisor "
                                       "detected: PVM)"));
  EXPECT_THAT(AllReasons(c), HasSubstr("kvm-pvm: this kernel is itself a kvm-pvm guest"));
  EXPECT_THAT(c.to_change_verdict(), ::testing::ElementsAre(HasSubstr("nested virtualization")));
  // No log, but the CPU says there is a hypervisor: still decided, the host unnamed.
  c.mutable_boot_mode()->clear_hypervisor_detected();
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
  EXPECT_THAT(AllReasons(c), HasSubstr("the CPU's hypervisor flag"));
  // With vmx passed through, a missing /dev/kvm is something else.
  c.add_cpu_virt_flags("vmx");
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_UNKNOWN);
}

// Issue 22's first step: what is recommended follows what was found.
TEST(DecideVerdictTest, Row9RecommendationsFollowTheEvidence) {
  farm::v1::KvmCapability c;
  c.mutable_agent_user()->set_is_root(true);
  c.mutable_boot_mode()->set_log_readable(true);
  c.mutable_kernel()->set_config_kvm(true);
  c.mutable_kernel()->set_config_virtualization(true);
  c.mutable_kernel()->set_kvm_module_present(true);  // as on a PVM guest
  c.add_cpu_virt_flags("hypervisor");                // and no vmx/svm
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_UNKNOWN);
  EXPECT_THAT(AllReasons(c), HasSubstr("its kvm module is in, yet there is no /dev/kvm"));
  EXPECT_THAT(c.to_change_verdict(),
              ::testing::ElementsAre(HasSubstr("nested virtualization on the host")));
  // Not root and a log it could not read: then becoming root would help.
  c.mutable_agent_user()->set_is_root(false);
  c.mutable_boot_mode()->set_log_readable(false);
  c.add_cpu_virt_flags("vmx");
  DecideVerdict(&c);
  EXPECT_THAT(c.to_change_verdict(), ::testing::ElementsAre(HasSubstr("run the probe as root"),
                                                            "enable virtualization in firmware"));
}

TEST(DecideVerdictTest, CpuFlagsAreNeverAGate) {
  farm::v1::KvmCapability c = WorkingKvm();
  c.clear_cpu_virt_flags();  // no vmx/svm, as under a nested paravirtual KVM
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
}

TEST(DecideVerdictTest, DecidingTwiceGivesTheSameReasons) {
  farm::v1::KvmCapability c = WorkingKvm();
  DecideVerdict(&c);
  const int reasons = c.verdict_reasons_size();
  DecideVerdict(&c);
  EXPECT_EQ(c.verdict_reasons_size(), reasons);
}

}  // namespace
}  // namespace kvmfarm::probe
