// -----------------------------------------------------------------------------
// File: boot_stages.h
// -----------------------------------------------------------------------------
//
// Where a boot's time goes, so an operator sees whether a slow device is slow in
// QEMU, in the kernel or in user space:
//
//   QEMU spawned ─ vmm_start ─▶ first guest instruction ─ kernel ─▶ init ─ userspace ─▶ ready
//
//  * vmm_start: QEMU's own start-up until the guest's CPU runs: the host's time from
//    spawning QEMU to the boot marker, less the guest's time from its first
//    instruction to the marker;
//  * kernel: the guest's first instruction to init's first act (the boot marker):
//    firmware (none for these direct kernel boots but microvm's qboot jump), the
//    kernel's boot, a compressed kernel's decompression;
//  * userspace: the boot marker to the ready marker (init has prepared what the
//    command line asked for: file systems, the scratch disk).
//
// The guest reads its own clocks (guest_images/init.sh, workloads/guest_clock.h):
// the kernel's monotonic clock at the boot and ready markers, and once both it and
// the CPU's counter, which starts with the guest's CPU; the difference places the
// first instruction on the kernel's clock, which starts only once the kernel set
// up its timekeeping. So the console's speed enters only vmm_start, through the one
// line the host times, and vmm_start + kernel is the host's time_to_userspace.
#ifndef KVMFARM_AGENT_VM_BOOT_STAGES_H_
#define KVMFARM_AGENT_VM_BOOT_STAGES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::vm {

struct BootStages {
  absl::Duration vmm_start;
  absl::Duration kernel;
  absl::Duration userspace;
};

// What the guest reported, in nanoseconds; 0 where a line did not say.
struct GuestBootClocks {
  int64_t booted_clock_ns = 0;   // FARM_BOOTED clock_ns
  int64_t ready_clock_ns = 0;    // FARM_READY clock_ns
  int64_t counter_ns = 0;        // FARM_CLOCKS counter_ns
  int64_t counter_clock_ns = 0;  // FARM_CLOCKS clock_ns
};

// The stages from the host's spawn-to-marker time and the guest's clocks.
// NOT_FOUND naming the line when a clock is missing (an image from before the
// stages, or a guest that has not printed it yet); FAILED_PRECONDITION naming the
// clocks when they contradict each other (ready before booted, a counter behind the
// kernel's clock, or more guest time than the host saw in all).
absl::StatusOr<BootStages> SplitBoot(absl::Duration time_to_userspace,
                                     const GuestBootClocks& clocks);

farm::v1::BootStages ToProto(const BootStages& stages);

// A boot's stages into its record, or why it has none (VmBoot.stages_note).
void SetStages(const absl::StatusOr<BootStages>& stages, farm::v1::VmBoot* boot);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_BOOT_STAGES_H_
