#include "agent/probe/host_hypervisor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace kvmfarm::probe {
namespace {

// The printable ASCII of a signature, as CPUID's registers or a fixture give it.
std::string Printable(absl::string_view bytes) {
  std::string printable;
  for (char c : bytes) {
    if (c >= 0x20 && c < 0x7f) printable.push_back(c);
  }
  return printable;
}

bool IsX86(const farm::v1::KvmCapability& capability) {
  return capability.device().cpu_arch() == farm::v1::CPU_ARCH_X86_64 ||
         capability.device().cpu_arch() == farm::v1::CPU_ARCH_X86;
}

bool HasFlag(const farm::v1::KvmCapability& capability, absl::string_view flag) {
  return std::find(capability.cpu_virt_flags().begin(), capability.cpu_virt_flags().end(), flag) !=
         capability.cpu_virt_flags().end();
}

// This CPU's answer to leaf 0x40000000 when its hypervisor bit (leaf 1, ECX bit
// 31) is set; "" otherwise or on a build for another architecture.
std::string AskCpuid() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & (1u << 31)) == 0) return "";
  __cpuid(0x40000000, eax, ebx, ecx, edx);
  return CpuidSignature(ebx, ecx, edx);
#else
  return "";
#endif
}

std::string RecordedCpuid(const Sysroot& sysroot, Checks* checks) {
  absl::StatusOr<std::string> text = sysroot.ReadFile("/cpuid_hypervisor.txt", 256);
  NoteUnreadable(text.status(), "/cpuid_hypervisor.txt", checks);
  if (!text.ok()) return "";
  // The signature may end in a space ("bhyve bhyve "): only the newline goes.
  absl::string_view line = *text;
  return Printable(line.substr(0, line.find('\n'))).substr(0, 12);
}

std::string Evidence(const farm::v1::HostHypervisorEvidence& host) {
  std::vector<std::string> parts;
  if (!host.kernel_log().empty()) {
    parts.push_back(absl::StrCat("kernel log: Hypervisor detected: ", host.kernel_log()));
  }
  if (!host.cpuid_signature().empty()) {
    parts.push_back(absl::StrCat("CPUID 0x40000000: \"", host.cpuid_signature(), "\""));
  }
  if (!host.sys_hypervisor_type().empty()) {
    parts.push_back(absl::StrCat("/sys/hypervisor/type: ", host.sys_hypervisor_type()));
  }
  if (host.cpu_flag()) parts.push_back("the CPU's hypervisor flag");
  return absl::StrJoin(parts, "; ");
}

}  // namespace

std::string CpuidSignature(uint32_t ebx, uint32_t ecx, uint32_t edx) {
  std::string bytes;
  for (uint32_t reg : {ebx, ecx, edx}) {
    for (int byte = 0; byte < 4; ++byte)
      bytes.push_back(static_cast<char>((reg >> (8 * byte)) & 0xff));
  }
  return Printable(bytes);
}

bool HasHardwareVirtualization(const farm::v1::KvmCapability& capability) {
  return HasFlag(capability, "vmx") || HasFlag(capability, "svm");
}

farm::v1::HostHypervisorEvidence ReadHostHypervisor(const Sysroot& sysroot,
                                                    const farm::v1::KvmCapability& capability,
                                                    Checks* checks) {
  farm::v1::HostHypervisorEvidence host;
  if (!IsX86(capability)) return host;
  host.set_kernel_log(capability.boot_mode().hypervisor_detected());
  host.set_cpuid_signature(sysroot.is_host() ? AskCpuid() : RecordedCpuid(sysroot, checks));
  absl::StatusOr<std::string> type = sysroot.ReadLine("/sys/hypervisor/type");
  if (type.ok()) host.set_sys_hypervisor_type(*type);
  host.set_cpu_flag(HasFlag(capability, "hypervisor"));
  host.set_name(!host.kernel_log().empty()            ? host.kernel_log()
                : !host.sys_hypervisor_type().empty() ? host.sys_hypervisor_type()
                                                      : host.cpuid_signature());
  const std::string evidence = Evidence(host);
  if (!evidence.empty()) {
    AddCheck(checks, "hypervisor.host", farm::v1::OUTCOME_WARN,
             absl::StrCat("this kernel is a guest of ",
                          host.name().empty() ? "a hypervisor" : host.name(), " (", evidence, ")"),
             "kernel log, CPUID 0x40000000, /sys/hypervisor, /proc/cpuinfo");
  }
  return host;
}

std::optional<std::string> X86HostWithoutVirtualization(const farm::v1::KvmCapability& c) {
  if (!IsX86(c) || HasHardwareVirtualization(c)) return std::nullopt;
  // The log or the CPU's flag must say this kernel is a guest (CPUID is asked only
  // when the flag is set; /sys/hypervisor alone is not enough).
  const std::string& log = c.boot_mode().hypervisor_detected();
  if (log.empty() && !HasFlag(c, "hypervisor")) return std::nullopt;
  const farm::v1::HostHypervisorEvidence& host = c.host_hypervisor();
  const std::string name = !host.name().empty() ? host.name() : log;
  std::string evidence = Evidence(host);
  if (evidence.empty()) {
    evidence = log.empty() ? "the CPU's hypervisor flag"
                           : absl::StrCat("kernel log: Hypervisor detected: ", log);
  }
  return absl::StrCat(name.empty() ? "a hypervisor" : absl::StrCat("the ", name, " hypervisor"),
                      " (", evidence, ")");
}

}  // namespace kvmfarm::probe
