#include "agent/probe/verdict.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/probe/host_hypervisor.h"
#include "agent/probe/hypervisor.h"

namespace kvmfarm::probe {
namespace {

constexpr char kUseKvm[] = "use KVM: multi-VM, daily driver, battery-powered, real-time";
constexpr char kTcgOnly[] = "TCG only: development, a single lightweight VM";

bool HasKvmQemu(const farm::v1::KvmCapability& c) {
  for (const farm::v1::QemuBinary& q : c.qemu()) {
    if (q.kvm_supported()) return true;
  }
  return false;
}

void Set(farm::v1::KvmCapability* c, farm::v1::Verdict verdict) {
  c->set_verdict(verdict);
  c->set_recommendation(verdict == farm::v1::VERDICT_KVM_READY ? kUseKvm : kTcgOnly);
}

}  // namespace

void DecideVerdict(farm::v1::KvmCapability* c) {
  c->clear_verdict_reasons();
  c->clear_to_change_verdict();
  const farm::v1::KvmNodeProbe& node = c->kvm_node();
  auto reason = [c](std::string text) { c->add_verdict_reasons(std::move(text)); };
  auto fix = [c](std::string text) { c->add_to_change_verdict(std::move(text)); };

  if (node.present()) {
    // 1. Exists, but this user can't open it.
    if (!node.opened() && node.has_open_errno()) {
      Set(c, farm::v1::VERDICT_KVM_NO_ACCESS);
      reason(absl::StrCat(
          "/dev/kvm exists but open() fails for ",
          c->has_agent_user()
              ? absl::StrCat("user ", c->agent_user().name(), " (uid ", c->agent_user().uid(), ")")
              : "this user",
          ": ", std::strerror(node.open_errno()),
          node.owner().empty() ? ""
                               : absl::StrCat(" (owner ", node.owner(), ":", node.group(), ")")));
      if (c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_PKVM) {
        reason("protected KVM (pKVM) is reserved for Android's Virtualization Framework");
      }
      fix("run the agent as root (su) or as a member of /dev/kvm's group");
      fix("on stock Android, root needs an unlocked bootloader; AVF (crosvm) is the "
          "supported way to pKVM");
      return;
    }
    if (!node.opened()) {
      Set(c, farm::v1::VERDICT_UNKNOWN);
      reason("/dev/kvm exists but whether this user can open it was not recorded");
      fix("probe on the device itself (farm-agent --probe) to open /dev/kvm");
      return;
    }
    // 2. Opens, but a VM or vCPU can't be created or run.
    if (node.has_api_version() && node.api_version() != 12) {
      Set(c, farm::v1::VERDICT_KVM_UNUSABLE);
      if (node.api_version() < 0) {
        reason(
            "/dev/kvm opens but does not answer KVM_GET_API_VERSION (an emulator such "
            "as qemu-user passes no KVM ioctls through)");
        fix("run the agent on the device itself, not under user-mode emulation");
      } else {
        reason(absl::StrCat("KVM_GET_API_VERSION is ", node.api_version(), ", not the stable 12"));
        fix("use a kernel with the standard KVM API");
      }
      return;
    }
    if (node.has_smoke_test() && node.smoke_test().outcome() == farm::v1::OUTCOME_FAIL) {
      Set(c, farm::v1::VERDICT_KVM_UNUSABLE);
      reason(absl::StrCat("the smoke test failed: ", node.smoke_test().detail()));
      fix("read the kernel log for KVM errors; the kernel's KVM can't run a vCPU");
      return;
    }
    if (!node.has_smoke_test() || node.smoke_test().outcome() != farm::v1::OUTCOME_PASS) {
      Set(c, farm::v1::VERDICT_UNKNOWN);
      reason("/dev/kvm opens but the smoke test did not run");
      fix("probe again with the smoke test enabled");
      return;
    }
    reason(absl::StrCat("/dev/kvm opens, API 12, smoke test passed (", node.smoke_test().detail(),
                        ")"));
    // 3/4. The real guest boot under KVM.
    if (c->has_kvm_boot_check()) {
      if (c->kvm_boot_check().succeeded()) {
        Set(c, farm::v1::VERDICT_KVM_READY);
        reason("a real guest booted to user space under KVM");
      } else {
        Set(c, farm::v1::VERDICT_KVM_BOOT_FAILED);
        reason(absl::StrCat("a real guest did not boot under KVM: ",
                            c->kvm_boot_check().failure_reason()));
        if (c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_PVM) {
          reason(
              "this is a nested paravirtual KVM (kvm_pvm): tiny guests run, full "
              "Linux guests may not");
        }
        fix("run on bare metal or a hypervisor with full nested virtualization");
      }
      return;
    }
    // 5. Smoke test passed; the boot was not run.
    Set(c, farm::v1::VERDICT_KVM_BOOT_UNTESTED);
    if (c->device().is_fixture()) {
      reason("the guest boot under KVM was not recorded for this fixture device");
      fix("probe the device itself to boot a real guest under KVM");
    } else if (c->qemu_size() == 0) {
      reason("the guest boot under KVM was not run: no QEMU on the device");
      fix("install QEMU (or give --qemu) and run the boot check (farm-agent --probe "
          "--boot-check)");
    } else if (!HasKvmQemu(*c)) {
      reason("the guest boot under KVM was not run: the QEMU found has no KVM accelerator");
      fix("use a QEMU built with KVM support (--qemu)");
    } else {
      reason("the guest boot under KVM was not run (not asked)");
      fix("run the boot check (farm-agent --probe --boot-check, or GetCapability with "
          "boot_check): it turns this into KVM_READY or KVM_BOOT_FAILED");
    }
    if (c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_PVM) {
      reason(
          "nested paravirtual KVM (kvm_pvm): the smoke test passing does not mean a "
          "Linux guest boots");
    }
    return;
  }

  // No /dev/kvm.
  // 6. A vendor hypervisor instead.
  if (c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_GUNYAH ||
      c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_GENIEZONE) {
    Set(c, farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
    const bool gunyah = c->hypervisor_kind() == farm::v1::HYPERVISOR_KIND_GUNYAH;
    reason(absl::StrCat("no /dev/kvm; the device runs ",
                        gunyah ? "Qualcomm Gunyah" : "MediaTek GenieZone",
                        " at EL2 instead of KVM"));
    for (const std::string& line : c->vendor_hypervisor_evidence()) reason(line);
    // Public reports of Snapdragon 8 Elite phones: only protected VMs start.
    if (ProtectedVmsOnly(c->avf())) {
      reason(
          "protected VMs only: AVF says protected_vm.supported and not vm.supported; "
          "non-protected VMs fail (ENODEV)");
    }
    fix(absl::StrCat("use ", gunyah ? "Gunyah" : "GenieZone",
                     " tooling (through Android's Virtualization Framework) instead of "
                     "KVM"));
    fix("or flash a custom kernel with KVM, where the bootloader hands over EL2");
    return;
  }
  // 7. Booted at EL1: no hypervisor mode for the kernel.
  const farm::v1::BootModeEvidence& boot = c->boot_mode();
  if (boot.exception_level() == farm::v1::EXCEPTION_LEVEL_EL1 ||
      boot.kvm_arm_mode() == farm::v1::KVM_ARM_MODE_NONE) {
    Set(c, farm::v1::VERDICT_NO_HYPERVISOR_MODE);
    reason("no /dev/kvm; the kernel booted at EL1 (HYP mode not available)");
    for (const std::string& line : boot.evidence_lines()) reason(line);
    fix("only a bootloader that starts the kernel at EL2 enables KVM (unlocked, custom "
        "firmware); the kernel can't get EL2 back");
    return;
  }
  // 7 (x86). A guest of a hypervisor that passes it no vmx/svm: the CPU offers this
  // kernel no hardware virtualization, whatever its KVM.
  if (const std::optional<std::string> host = X86HostWithoutVirtualization(*c)) {
    Set(c, farm::v1::VERDICT_NO_HYPERVISOR_MODE);
    reason(absl::StrCat("no /dev/kvm; this kernel runs as a guest of ", *host,
                        ", which passes it no hardware virtualization (no vmx/svm flag)"));
    if (c->kernel().kvm_module_present()) {
      reason("the kvm module is in the kernel but has no CPU support to bind to");
    }
    for (const std::string& line : boot.evidence_lines()) {
      if (absl::StartsWith(line, "kvm")) reason(line);
    }
    fix("enable nested virtualization for this VM on its host (or run on bare metal)");
    return;
  }
  // 8. The kernel was built without KVM.
  const farm::v1::KernelEvidence& kernel = c->kernel();
  if ((kernel.has_config_kvm() && !kernel.config_kvm()) ||
      (kernel.has_config_virtualization() && !kernel.config_virtualization())) {
    Set(c, farm::v1::VERDICT_KVM_NOT_IN_KERNEL);
    reason(absl::StrCat("no /dev/kvm; ", kernel.config_source(), " has ",
                        kernel.config_virtualization() ? "" : "no CONFIG_VIRTUALIZATION ",
                        kernel.config_kvm() ? "" : "no CONFIG_KVM"));
    fix("build and flash a kernel with CONFIG_VIRTUALIZATION=y and CONFIG_KVM=y "
        "(needs an unlocked bootloader)");
    return;
  }
  // 9. Nothing decides.
  Set(c, farm::v1::VERDICT_UNKNOWN);
  reason("no /dev/kvm");
  if (!kernel.has_config_kvm()) {
    reason("the kernel config is not readable: whether KVM is built in is unknown");
  } else if (kernel.kvm_module_present()) {
    reason(
        "the kernel has KVM and its kvm module is in, yet there is no /dev/kvm: the CPU "
        "offers this kernel no hardware virtualization (vmx/svm, or EL2)");
  } else {
    reason(
        "the kernel has CONFIG_KVM but no /dev/kvm: the kvm module is not loaded, "
        "or the CPU lacks virtualization (vmx/svm, or EL2)");
  }
  if (!boot.log_readable()) {
    reason(absl::StrCat("the kernel log is not readable: ", boot.log_unreadable_reason()));
  }
  // Recommendations follow the evidence: root is not told to become root, and a
  // loaded module is not to be loaded.
  const bool something_unreadable = !kernel.has_config_kvm() || !boot.log_readable();
  if (something_unreadable && !c->agent_user().is_root()) {
    fix("run the probe as root so the kernel log and config are readable");
  }
  if (!kernel.has_config_kvm() || !kernel.config_kvm()) return;
  if (kernel.kvm_module_present()) {
    fix(!HasHardwareVirtualization(*c)
            ? "enable virtualization for this kernel: in firmware on bare metal, or nested "
              "virtualization on the host when this kernel runs in a VM"
            : "enable virtualization in firmware");
  } else {
    fix("load the kvm module (modprobe kvm_intel / kvm_amd) or enable virtualization in "
        "firmware");
  }
}

}  // namespace kvmfarm::probe
