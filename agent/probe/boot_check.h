// -----------------------------------------------------------------------------
// File: boot_check.h
// -----------------------------------------------------------------------------
//
// The check that turns KVM_BOOT_UNTESTED into KVM_READY or KVM_BOOT_FAILED: boot
// the reference guest with Debian's kernel (vm::DistributionImageName(): KVM_READY
// means a distribution's Linux boots, not only kvmfarm's minimal kernel) under KVM,
// once, with a short
// deadline, and decide the verdict again with its result as evidence. Skipped, with
// the reason as a check, where it can't run: the smoke test did not pass, a fixture
// tree, no QEMU with KVM, no guest image. The probe's last check: it runs after
// RunProbe, holding the job slot (a boot is a measurement job).
//
// Example:
//
//   ASSIGN_OR_RETURN(farm::v1::KvmCapability capability, probe::RunProbe(options));
//   probe::RunKvmBootCheck(vm_options, lease.get(), &capability);
//   // capability.verdict() is now KVM_READY, KVM_BOOT_FAILED or says why not checked
#ifndef KVMFARM_AGENT_PROBE_BOOT_CHECK_H_
#define KVMFARM_AGENT_PROBE_BOOT_CHECK_H_

#include "absl/time/time.h"
#include "agent/job_slot.h"
#include "agent/vm/boot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

constexpr absl::Duration kBootCheckDeadline = absl::Seconds(20);

// `lease` (may be null) lets Cancel stop the boot.
void RunKvmBootCheck(const vm::BootJobOptions& options, JobSlot::Lease* lease,
                     farm::v1::KvmCapability* capability);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_BOOT_CHECK_H_
