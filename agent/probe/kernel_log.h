// -----------------------------------------------------------------------------
// File: kernel_log.h
// -----------------------------------------------------------------------------
//
// What the kernel log says about hypervisor mode: the exception level the CPUs
// started at (arm64: EL2 is needed for KVM), how KVM initialised (VHE, nVHE,
// protected nVHE, or "HYP mode not available"), the IPA size limit, and on x86 the
// KVM module's lines. When the log can't be read (SELinux denies dmesg to apps),
// the evidence says so and nothing is guessed.
#ifndef KVMFARM_AGENT_PROBE_KERNEL_LOG_H_
#define KVMFARM_AGENT_PROBE_KERNEL_LOG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/probe/checks.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

// Parses a kernel log as `dmesg` prints it (timestamps optional) into `evidence`
// (exception level, KVM mode, IPA limit, the deciding lines).
void ParseKernelLog(absl::string_view log, farm::v1::BootModeEvidence* evidence);

// Reads the kernel log: <sysroot>/dmesg.txt for a fixture; on the host `dmesg`,
// falling back to /dev/kmsg. Errors say why it is unreadable.
absl::StatusOr<std::string> ReadKernelLog(const Sysroot& sysroot);

// Reads and parses the log into `evidence`, adding the boot.exception_level and
// kvm.arm_mode checks for arm64 (and kvm.module lines for x86 as evidence).
void ReadBootModeEvidence(const Sysroot& sysroot, farm::v1::CpuArch arch,
                          farm::v1::BootModeEvidence* evidence, Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_KERNEL_LOG_H_
