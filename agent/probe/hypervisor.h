// -----------------------------------------------------------------------------
// File: hypervisor.h
// -----------------------------------------------------------------------------
//
// Which hypervisor a device offers. Newer phones replace KVM with a vendor
// hypervisor — Qualcomm Gunyah (/dev/gunyah, /sys/hypervisor/type = gunyah) on
// Snapdragon 8 Gen 3 and later, MediaTek GenieZone (/dev/gzvm) — reached through
// Android's Virtualization Framework (ro.boot.hypervisor.*, /apex/com.android.virt).
// Where /dev/kvm exists, the kind is KVM, Android's protected KVM, or a nested
// paravirtual KVM (kvm_pvm) as on cloud build hosts.
#ifndef KVMFARM_AGENT_PROBE_HYPERVISOR_H_
#define KVMFARM_AGENT_PROBE_HYPERVISOR_H_

#include <string>
#include <vector>

#include "agent/probe/checks.h"
#include "agent/probe/properties.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

struct VendorHypervisor {
  // GUNYAH, GENIEZONE, or NONE when no vendor hypervisor is seen.
  farm::v1::HypervisorKind kind = farm::v1::HYPERVISOR_KIND_NONE;
  // Every clue, one line each ("/dev/gunyah exists").
  std::vector<std::string> evidence;
};

// Looks for vendor hypervisors and AVF, adding the hypervisor.vendor check.
VendorHypervisor ReadVendorHypervisor(const Sysroot& sysroot, const Properties& props,
                                      Checks* checks);

// The AVF properties and APEX, with the android.avf check when the device has any.
// A device that supports protected VMs only (Snapdragon 8 Elite phones under
// Gunyah: non-protected VMs fail with ENODEV) is a WARN saying so.
farm::v1::AvfEvidence ReadAvf(const Sysroot& sysroot, const Properties& props, Checks* checks);

// Whether AVF says protected VMs only: protected_vm.supported and not vm.supported.
bool ProtectedVmsOnly(const farm::v1::AvfEvidence& avf);

// Decides the kind from everything probed (the capability's kvm_node, kernel,
// boot_mode and avf must be filled in) and adds the hypervisor.kind check saying why.
farm::v1::HypervisorKind DecideHypervisorKind(const Sysroot& sysroot,
                                              const farm::v1::KvmCapability& capability,
                                              const VendorHypervisor& vendor, Checks* checks);

// "pkvm", "gunyah", ...: the lower-case name of a kind, as labels use it.
std::string HypervisorKindName(farm::v1::HypervisorKind kind);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_HYPERVISOR_H_
