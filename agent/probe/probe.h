// -----------------------------------------------------------------------------
// File: probe.h
// -----------------------------------------------------------------------------
//
// The whole capability probe: identity, kernel, hypervisor mode, vendor
// hypervisors, /dev/kvm with its smoke test, QEMU, and the verdict, as one
// KvmCapability with every check's evidence.
//
// Example:
//
//   ProbeOptions options;
//   options.sysroot = "tests/fixtures/devices/pixel8-stock";
//   ASSIGN_OR_RETURN(farm::v1::KvmCapability capability, RunProbe(options));
//   // capability.verdict() == VERDICT_KVM_NO_ACCESS
#ifndef KVMFARM_AGENT_PROBE_PROBE_H_
#define KVMFARM_AGENT_PROBE_PROBE_H_

#include <string>

#include "absl/status/statusor.h"
#include "agent/probe/kvm_device.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

struct ProbeOptions {
  // Root prefix; "/" is the device itself. Anything else is a fixture tree and the
  // probe touches nothing of the host (no ioctls, no getprop, no dmesg, no QEMU).
  std::string sysroot = "/";
  // A getprop-format file to use instead of getprop (--props).
  std::string props_file;
  // Overrides the device id (--device-id).
  std::string device_id;
  // A QEMU binary to use instead of searching PATH (--qemu).
  std::string qemu;
  KvmProbeOptions kvm;
};

// Runs the probe. Errors only for unusable options: a sysroot that is not a
// directory, a --props file that is missing or garbled. Everything the device
// doesn't answer becomes a SKIP/FAIL check with its reason, never an error.
absl::StatusOr<farm::v1::KvmCapability> RunProbe(const ProbeOptions& options);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_PROBE_H_
