#include "agent/probe/probe.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/probe/host_hypervisor.h"
#include "agent/probe/hypervisor.h"
#include "agent/probe/identity.h"
#include "agent/probe/kernel.h"
#include "agent/probe/kernel_log.h"
#include "agent/probe/properties.h"
#include "agent/probe/qemu.h"
#include "agent/probe/verdict.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace kvmfarm::probe {
namespace {

// Android has no /etc/passwd (bionic knows its fixed ids itself; static glibc does
// not): the ids an agent runs as there, by their Android names.
std::string AndroidUserName(uid_t uid) {
  switch (uid) {
    case 0:
      return "root";
    case 1000:
      return "system";
    case 2000:
      return "shell";  // adb shell, without su
    default:
      return std::to_string(uid);
  }
}

void FillAgentUser(farm::v1::AgentUser* user) {
  const uid_t uid = ::geteuid();
  user->set_uid(uid);
  user->set_is_root(uid == 0);
  struct passwd pw, *result = nullptr;
  char buffer[1024];
  if (getpwuid_r(uid, &pw, buffer, sizeof(buffer), &result) == 0 && result) {
    user->set_name(ValidUtf8(pw.pw_name));
  } else {
    user->set_name(AndroidUserName(uid));
  }
}

// x86 virtualization flags: evidence, not a gate.
void AddCpuFlagsCheck(const IdentityResult& identity, farm::v1::KvmCapability* c) {
  if (!identity.cpu || (identity.cpu->arch != farm::v1::CPU_ARCH_X86_64 &&
                        identity.cpu->arch != farm::v1::CPU_ARCH_X86)) {
    return;
  }
  for (const std::string& flag : identity.cpu->virt_flags) c->add_cpu_virt_flags(flag);
  const bool hw = HasHardwareVirtualization(*c);
  AddCheck(c->mutable_checks(), "cpu.virt_flags",
           hw ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_WARN,
           hw ? absl::StrCat("CPU flags: ", absl::StrJoin(c->cpu_virt_flags(), " "))
              : absl::StrCat("no vmx/svm flag",
                             c->cpu_virt_flags().empty()
                                 ? ""
                                 : absl::StrCat(" (", absl::StrJoin(c->cpu_virt_flags(), " "), ")"),
                             ": VT-x/AMD-V is off or absent, or this is a VM whose host does "
                             "not nest (a nested paravirtual KVM may still give /dev/kvm)"),
           "/proc/cpuinfo");
}

}  // namespace

absl::StatusOr<farm::v1::KvmCapability> RunProbe(const ProbeOptions& options) {
  const absl::Time start = absl::Now();
  struct stat st;
  if (::stat(options.sysroot.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--sysroot '", options.sysroot, "' is not a directory (give / or a fixture tree)"));
  }
  const Sysroot sysroot(options.sysroot);
  farm::v1::KvmCapability capability;
  Checks* checks = capability.mutable_checks();
  ASSIGN_OR_RETURN(const Properties props, LoadProperties(sysroot, options.props_file, checks));
  capability.set_sysroot(sysroot.root());
  *capability.mutable_probed_at() = ToProtoTimestamp(start);

  const IdentityResult identity = ReadIdentity(sysroot, props, options.device_id, checks);
  *capability.mutable_device() = identity.identity;
  if (sysroot.is_host()) FillAgentUser(capability.mutable_agent_user());

  ReadKernelEvidence(sysroot, identity.identity.kernel_release(), capability.mutable_kernel(),
                     checks);
  ReadBootModeEvidence(sysroot, identity.identity.cpu_arch(), capability.mutable_boot_mode(),
                       checks);
  AddCpuFlagsCheck(identity, &capability);
  *capability.mutable_host_hypervisor() = ReadHostHypervisor(sysroot, capability, checks);
  *capability.mutable_avf() = ReadAvf(sysroot, props, checks);
  const VendorHypervisor vendor = ReadVendorHypervisor(sysroot, props, checks);
  for (const std::string& line : vendor.evidence) {
    capability.add_vendor_hypervisor_evidence(line);
  }
  *capability.mutable_kvm_node() = ProbeKvmNode(sysroot, options.kvm, checks);
  for (farm::v1::QemuBinary& qemu : FindQemu(sysroot, options.qemu, checks)) {
    *capability.add_qemu() = std::move(qemu);
  }
  capability.set_hypervisor_kind(DecideHypervisorKind(sysroot, capability, vendor, checks));
  DecideVerdict(&capability);
  *capability.mutable_probe_duration() = ToProtoDuration(absl::Now() - start);
  return capability;
}

}  // namespace kvmfarm::probe
