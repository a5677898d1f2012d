// -----------------------------------------------------------------------------
// File: cpuinfo_fields.h
// -----------------------------------------------------------------------------
//
// /proc/cpuinfo split into its "key : value" fields, the one reading of that file's
// layout: the probe builds its CPU facts on it (agent/probe/cpuinfo), farm-workload
// names the CPU that measured (workloads/runner) and the VM builder reads the host's
// TSC frequency (agent/vm/qemu_command). Kept apart from the probe because
// farm-workload runs inside guests, with none of the agent linked in.
//
// Example:
//
//   const CpuinfoFields cpu = SplitCpuinfo(text);
//   cpu.processors.size() == 8;
//   cpu.processors[0].at("CPU part") == "0xd80";
//   cpu.global.at("Hardware") == "Qualcomm Technologies, Inc SM8650";
#ifndef KVMFARM_COMMON_CPUINFO_FIELDS_H_
#define KVMFARM_COMMON_CPUINFO_FIELDS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kvmfarm {

struct CpuinfoFields {
  // Lines before the first "processor : N", and the "Hardware", "Serial" and
  // "Revision" lines that 32-bit arm kernels print after the last processor.
  std::map<std::string, std::string> global;
  // One map per "processor : N" block, in file order. ("Processor : AArch64 ..." of
  // old arm kernels names no number and starts no block.)
  std::vector<std::map<std::string, std::string>> processors;
};

// Keys and values with surrounding white space removed; lines without a colon or
// with an empty key are skipped. Never fails: empty input gives no processors.
CpuinfoFields SplitCpuinfo(absl::string_view text);

// The file at `path` (default /proc/cpuinfo) split; no processors if unreadable.
CpuinfoFields ReadCpuinfo(const std::string& path = "/proc/cpuinfo");

// The field `key` of the first processor, or "" when absent.
std::string FirstProcessorField(const CpuinfoFields& cpuinfo, const std::string& key);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_CPUINFO_FIELDS_H_
