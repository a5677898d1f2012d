// -----------------------------------------------------------------------------
// File: qemu.h
// -----------------------------------------------------------------------------
//
// Finds the QEMU system emulators the agent could boot guests with, and asks each
// for its version and accelerators (`-accel help`). Only on the device itself: a
// fixture tree can't say what QEMU its device has.
#ifndef KVMFARM_AGENT_PROBE_QEMU_H_
#define KVMFARM_AGENT_PROBE_QEMU_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/probe/checks.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

// The accelerators listed in `-accel help` output.
std::vector<std::string> ParseAccelHelp(absl::string_view text);

// Asks one binary for its version and accelerators.
absl::StatusOr<farm::v1::QemuBinary> QueryQemu(const std::string& path);

// `qemu_flag` (--qemu, a path) if set, else qemu-system-x86_64 and
// qemu-system-aarch64 from PATH. Adds the qemu check.
std::vector<farm::v1::QemuBinary> FindQemu(const Sysroot& sysroot, const std::string& qemu_flag,
                                           Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_QEMU_H_
