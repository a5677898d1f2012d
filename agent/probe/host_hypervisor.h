// -----------------------------------------------------------------------------
// File: host_hypervisor.h
// -----------------------------------------------------------------------------
//
// Whether an x86 kernel is itself a guest, and of which hypervisor. Cloud build
// machines are guests of hypervisors that pass on no vmx/svm (PVM): the kernel has
// KVM, but the CPU offers it nothing to run guests with. Three sources say so and
// disagree: the kernel log ("Hypervisor detected: PVM"), CPUID leaf 0x40000000 (a
// PVM host answers "bhyve bhyve "), and /sys/hypervisor/type (often absent). The
// kernel log names the host; the others are evidence beside it.
#ifndef KVMFARM_AGENT_PROBE_HOST_HYPERVISOR_H_
#define KVMFARM_AGENT_PROBE_HOST_HYPERVISOR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/probe/checks.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

// The evidence for an x86 CPU (empty for others), with the hypervisor.host check
// when there is any. On the host, CPUID is asked when this agent is an x86 build;
// a fixture records its answer in cpuid_hypervisor.txt. `capability` must have
// its device, cpu_virt_flags and boot_mode filled in.
farm::v1::HostHypervisorEvidence ReadHostHypervisor(const Sysroot& sysroot,
                                                    const farm::v1::KvmCapability& capability,
                                                    Checks* checks);

// CPUID 0x40000000's signature from its EBX, ECX, EDX: printable ASCII kept,
// NULs and other bytes dropped ("KVMKVMKVM\0\0\0" -> "KVMKVMKVM").
std::string CpuidSignature(uint32_t ebx, uint32_t ecx, uint32_t edx);

// Whether the CPU flags offer hardware virtualization (vmx or svm).
bool HasHardwareVirtualization(const farm::v1::KvmCapability& capability);

// When `capability` is an x86 kernel that is a guest of a hypervisor passing it no
// vmx/svm: that host in words, with the evidence ("the PVM hypervisor (kernel
// log: Hypervisor detected: PVM; CPUID 0x40000000: \"bhyve bhyve \")").
std::optional<std::string> X86HostWithoutVirtualization(const farm::v1::KvmCapability& capability);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_HOST_HYPERVISOR_H_
