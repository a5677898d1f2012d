// -----------------------------------------------------------------------------
// File: cpuinfo.h
// -----------------------------------------------------------------------------
//
// Parses /proc/cpuinfo into the CPU facts the probe reports: architecture, core
// count, core designs (arm64 "CPU implementer"/"CPU part" -> "Cortex-X4"), the x86
// model name and the virtualization flags (vmx/svm). Flags are evidence, never a
// gate: a nested paravirtual KVM works without them.
//
// Example:
//
//   ASSIGN_OR_RETURN(CpuInfo cpu, ParseCpuinfo(text));
//   // cpu.groups[0].part_name == "Cortex-X4", cpu.groups[0].count == 1
#ifndef KVMFARM_AGENT_PROBE_CPUINFO_H_
#define KVMFARM_AGENT_PROBE_CPUINFO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

struct CoreGroup {
  std::string part_name;    // "Cortex-A520"; "unknown part 0xabc" when not in the table
  std::string implementer;  // "0x41"
  std::string part_id;      // "0xd80"
  std::vector<int> cpu_ids;
};

struct CpuInfo {
  farm::v1::CpuArch arch = farm::v1::CPU_ARCH_UNSPECIFIED;
  int logical_cpus = 0;
  // Consecutive CPUs of the same design form a group, in /proc/cpuinfo order
  // (little cores first on most phones).
  std::vector<CoreGroup> groups;
  std::string model_name;  // x86 "model name"; arm64 "Hardware" if present
  std::string vendor_id;   // x86 "GenuineIntel" / "AuthenticAMD"
  // "vmx", "svm" and "hypervisor" where the flags list them.
  std::vector<std::string> virt_flags;
};

// INVALID_ARGUMENT for empty or unrecognisable input (no "processor" entries).
absl::StatusOr<CpuInfo> ParseCpuinfo(absl::string_view text);

// "Cortex-X4" for (0x41, 0xd82); empty when unknown.
std::string ArmCoreName(absl::string_view implementer, absl::string_view part);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_CPUINFO_H_
