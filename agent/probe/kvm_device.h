// -----------------------------------------------------------------------------
// File: kvm_device.h
// -----------------------------------------------------------------------------
//
// /dev/kvm as the agent's user sees it: the node's mode and owner, whether it
// opens, KVM_GET_API_VERSION (12 is the stable API), KVM_CHECK_EXTENSION for the
// capabilities that matter, and the functional smoke test no shell script does:
// create a VM, map a page of guest code, create a vCPU and run it to a known exit
// (x86: real-mode `out` to a port, then `hlt`; arm64: an MMIO store that exits to
// user space).
//
// The smoke test runs in a forked child with a deadline: a vCPU that never exits,
// or a KVM that wedges, is killed and reported, and never hangs the agent.
//
// With a fixture sysroot nothing touches the host's /dev/kvm: the answers come
// from <sysroot>/kvm_probe.textproto (a KvmNodeProbe recorded on the device), or
// only the node's presence is known. A record whose `present` disagrees with the
// tree's dev/kvm is an inconsistent fixture: a FAIL kvm.recorded check naming the
// file, and the record is ignored.
#ifndef KVMFARM_AGENT_PROBE_KVM_DEVICE_H_
#define KVMFARM_AGENT_PROBE_KVM_DEVICE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/probe/checks.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

struct KvmProbeOptions {
  // The longest the smoke test may take.
  absl::Duration smoke_test_timeout = absl::Seconds(2);
  // Skip the smoke test (the rest still runs).
  bool run_smoke_test = true;
};

// Probes /dev/kvm below `sysroot` (see above) and appends the kvm.* checks.
farm::v1::KvmNodeProbe ProbeKvmNode(const Sysroot& sysroot, const KvmProbeOptions& options,
                                    Checks* checks);

// The smoke test alone, on an open /dev/kvm descriptor of the host.
farm::v1::SmokeTest RunKvmSmokeTest(int kvm_fd, absl::Duration timeout);

// Checks that turn a recorded or live KvmNodeProbe into evidence lines.
void AddKvmNodeChecks(const farm::v1::KvmNodeProbe& node, absl::string_view source, Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_KVM_DEVICE_H_
