#include "agent/probe/hypervisor.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/probe/host_hypervisor.h"
#include "common/proto_enum.h"

namespace kvmfarm::probe {

namespace {

// "1"/"true" and "0"/"false", as Android writes booleans; absent otherwise.
std::optional<bool> BoolProperty(const Properties& props, absl::string_view key) {
  const std::string value = absl::AsciiStrToLower(props.GetOr(key));
  if (value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  return std::nullopt;
}

std::string YesNo(bool has, bool value) { return !has ? "not said" : value ? "yes" : "no"; }

}  // namespace

std::string HypervisorKindName(farm::v1::HypervisorKind kind) {
  // An undecided kind reads as unknown, like one the evidence couldn't name.
  return kind == farm::v1::HYPERVISOR_KIND_UNSPECIFIED ? "unknown" : LowerEnumValueName(kind);
}

VendorHypervisor ReadVendorHypervisor(const Sysroot& sysroot, const Properties& props,
                                      Checks* checks) {
  VendorHypervisor vendor;
  if (sysroot.Exists("/dev/gunyah")) {
    vendor.kind = farm::v1::HYPERVISOR_KIND_GUNYAH;
    vendor.evidence.push_back("/dev/gunyah exists (Qualcomm Gunyah)");
  }
  absl::StatusOr<std::string> hyp_type = sysroot.ReadLine("/sys/hypervisor/type");
  NoteUnreadable(hyp_type.status(), "/sys/hypervisor/type", checks);
  if (hyp_type.ok() && !hyp_type->empty()) {
    vendor.evidence.push_back(absl::StrCat("/sys/hypervisor/type = ", *hyp_type));
    if (absl::EqualsIgnoreCase(*hyp_type, "gunyah")) {
      vendor.kind = farm::v1::HYPERVISOR_KIND_GUNYAH;
    }
  }
  if (sysroot.Exists("/dev/gzvm")) {
    vendor.kind = farm::v1::HYPERVISOR_KIND_GENIEZONE;
    vendor.evidence.push_back("/dev/gzvm exists (MediaTek GenieZone)");
  }
  const std::string version = props.GetOr("ro.boot.hypervisor.version");
  if (!version.empty()) {
    vendor.evidence.push_back(absl::StrCat("ro.boot.hypervisor.version = ", version));
    const std::string lower = absl::AsciiStrToLower(version);
    if (vendor.kind == farm::v1::HYPERVISOR_KIND_NONE) {
      if (absl::StrContains(lower, "gunyah")) vendor.kind = farm::v1::HYPERVISOR_KIND_GUNYAH;
      if (absl::StrContains(lower, "geniezone") || absl::StrContains(lower, "gzvm")) {
        vendor.kind = farm::v1::HYPERVISOR_KIND_GENIEZONE;
      }
    }
  }
  for (const char* key :
       {"ro.boot.hypervisor.vm.supported", "ro.boot.hypervisor.protected_vm.supported"}) {
    const std::string value = props.GetOr(key);
    if (!value.empty()) vendor.evidence.push_back(absl::StrCat(key, " = ", value));
  }
  if (sysroot.Exists("/apex/com.android.virt")) {
    vendor.evidence.push_back("/apex/com.android.virt present (Android Virtualization Framework)");
  }

  if (vendor.kind != farm::v1::HYPERVISOR_KIND_NONE) {
    AddCheck(checks, "hypervisor.vendor", farm::v1::OUTCOME_WARN,
             absl::StrCat(HypervisorKindName(vendor.kind),
                          ": VMs through the vendor hypervisor, not KVM (",
                          absl::StrJoin(vendor.evidence, "; "), ")"),
             "/dev, /sys/hypervisor, ro.boot.hypervisor.*");
  } else if (!vendor.evidence.empty()) {
    AddCheck(checks, "hypervisor.vendor", farm::v1::OUTCOME_PASS,
             absl::StrCat("no vendor hypervisor; ", absl::StrJoin(vendor.evidence, "; ")),
             "ro.boot.hypervisor.*");
  }
  return vendor;
}

farm::v1::AvfEvidence ReadAvf(const Sysroot& sysroot, const Properties& props, Checks* checks) {
  farm::v1::AvfEvidence avf;
  if (std::optional<bool> vm = BoolProperty(props, "ro.boot.hypervisor.vm.supported")) {
    avf.set_vm_supported(*vm);
  }
  if (std::optional<bool> pvm = BoolProperty(props, "ro.boot.hypervisor.protected_vm.supported")) {
    avf.set_protected_vm_supported(*pvm);
  }
  avf.set_version(props.GetOr("ro.boot.hypervisor.version"));
  avf.set_apex_present(sysroot.Exists("/apex/com.android.virt"));
  if (!avf.has_vm_supported() && !avf.has_protected_vm_supported() && avf.version().empty() &&
      !avf.apex_present()) {
    return avf;
  }
  const std::string detail = absl::StrCat(
      "VMs: ", YesNo(avf.has_vm_supported(), avf.vm_supported()),
      "; protected VMs: ", YesNo(avf.has_protected_vm_supported(), avf.protected_vm_supported()),
      avf.version().empty() ? "" : absl::StrCat("; hypervisor ", avf.version()),
      "; /apex/com.android.virt ", avf.apex_present() ? "present" : "absent");
  const bool any = avf.vm_supported() || avf.protected_vm_supported();
  AddCheck(checks, "android.avf",
           ProtectedVmsOnly(avf) || !any ? farm::v1::OUTCOME_WARN : farm::v1::OUTCOME_PASS,
           ProtectedVmsOnly(avf)
               ? absl::StrCat("protected VMs only: non-protected VMs fail (ENODEV) (", detail, ")")
               : detail,
           "ro.boot.hypervisor.*, /apex/com.android.virt");
  return avf;
}

bool ProtectedVmsOnly(const farm::v1::AvfEvidence& avf) {
  return avf.protected_vm_supported() && !avf.vm_supported();
}

farm::v1::HypervisorKind DecideHypervisorKind(const Sysroot& sysroot,
                                              const farm::v1::KvmCapability& capability,
                                              const VendorHypervisor& vendor, Checks* checks) {
  farm::v1::HypervisorKind kind = farm::v1::HYPERVISOR_KIND_NONE;
  std::string why = "no /dev/kvm and no vendor hypervisor";
  if (capability.kvm_node().present()) {
    kind = farm::v1::HYPERVISOR_KIND_KVM;
    why = "/dev/kvm";
    // A nested paravirtual KVM announces its module.
    std::string pvm_line;
    for (const std::string& line : capability.boot_mode().evidence_lines()) {
      if (absl::StartsWith(line, "kvm-pvm:")) pvm_line = line;
    }
    if (sysroot.Exists("/sys/module/kvm_pvm") || !pvm_line.empty()) {
      kind = farm::v1::HYPERVISOR_KIND_PVM;
      why = absl::StrCat("nested paravirtual KVM: ",
                         pvm_line.empty() ? "/sys/module/kvm_pvm is loaded" : pvm_line);
    } else if (capability.boot_mode().kvm_arm_mode() == farm::v1::KVM_ARM_MODE_PROTECTED) {
      kind = farm::v1::HYPERVISOR_KIND_PKVM;
      why = "protected KVM: the kernel log says Protected nVHE mode";
    } else if (capability.kernel().kvm_arm_mode_arg() == "protected") {
      kind = farm::v1::HYPERVISOR_KIND_PKVM;
      why = "protected KVM: kvm-arm.mode=protected";
    } else if (capability.avf().protected_vm_supported()) {
      kind = farm::v1::HYPERVISOR_KIND_PKVM;
      why = "protected KVM: ro.boot.hypervisor.protected_vm.supported";
    } else if (capability.boot_mode().kvm_arm_mode() == farm::v1::KVM_ARM_MODE_VHE ||
               capability.boot_mode().kvm_arm_mode() == farm::v1::KVM_ARM_MODE_NVHE) {
      why = absl::StrCat("KVM at EL2 (", EnumValueName(capability.boot_mode().kvm_arm_mode()), ")");
    }
  } else if (vendor.kind != farm::v1::HYPERVISOR_KIND_NONE) {
    kind = vendor.kind;
    why = absl::StrJoin(vendor.evidence, "; ");
  } else if (const std::optional<std::string> host = X86HostWithoutVirtualization(capability)) {
    // The host's hypervisor, though it offers this kernel none: PVM by name, else
    // one the enum has no name for.
    kind = absl::EqualsIgnoreCase(capability.host_hypervisor().name(), "PVM")
               ? farm::v1::HYPERVISOR_KIND_PVM
               : farm::v1::HYPERVISOR_KIND_UNKNOWN;
    why = absl::StrCat("this kernel is a guest of ", *host,
                       ", which offers it no hardware virtualization");
  }
  const bool usable = kind != farm::v1::HYPERVISOR_KIND_NONE &&
                      (capability.kvm_node().present() || vendor.kind == kind);
  AddCheck(checks, "hypervisor.kind", usable ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_FAIL,
           absl::StrCat(HypervisorKindName(kind), ": ", why), "probe evidence");
  return kind;
}

}  // namespace kvmfarm::probe
