// -----------------------------------------------------------------------------
// File: kernel.h
// -----------------------------------------------------------------------------
//
// What the kernel's build and command line say about KVM: CONFIG_KVM and
// CONFIG_VIRTUALIZATION from /proc/config.gz (zlib) or /boot/config-<release>, and
// kvm-arm.mode= from /proc/cmdline. A missing config is "unknown", never "no".
#ifndef KVMFARM_AGENT_PROBE_KERNEL_H_
#define KVMFARM_AGENT_PROBE_KERNEL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/probe/checks.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

// CONFIG_X -> "y" / "m" / "n" (for "# CONFIG_X is not set") / a value.
using KernelConfig = std::map<std::string, std::string>;

// Parses a kernel .config. INVALID_ARGUMENT when no CONFIG_ line is found.
absl::StatusOr<KernelConfig> ParseKernelConfig(absl::string_view text);

// Inflates gzip data (as /proc/config.gz), refusing output beyond `max_bytes`.
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t max_bytes = 64 << 20);

// The release from a /proc/version line: "Linux version 6.1.75-android14-11 (...)"
// -> "6.1.75-android14-11"; empty when the line is not of that form.
std::string KernelReleaseFromVersion(absl::string_view proc_version);

// The value of kvm-arm.mode= on a kernel command line, "" when absent.
std::string KvmArmModeArg(absl::string_view cmdline);

// Reads the config (/proc/config.gz, else /boot/config-<release>) and command line
// into `evidence`, appending a check per finding to `checks`.
void ReadKernelEvidence(const Sysroot& sysroot, absl::string_view release,
                        farm::v1::KernelEvidence* evidence, Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_KERNEL_H_
