// -----------------------------------------------------------------------------
// File: guest_clock.h
// -----------------------------------------------------------------------------
//
// The guest's two clocks at one instant, for the boot stages (agent/vm/
// boot_stages.h): the CPU's counter, which starts at 0 when the VM's CPU starts
// running (x86: the TSC, reset with the vCPU by QEMU under TCG and by KVM;
// arm64: the virtual counter, CNTVCT_EL0, offset to 0 at VM creation by KVM and
// started with the VM by QEMU under TCG), and the kernel's monotonic clock, which
// starts only once the kernel initialised its timekeeping. The difference is the
// time from the guest's first instruction to the kernel's clock: firmware, loading
// and the kernel's earliest steps, which the kernel's clock alone cannot see.
//
// `farm-workload --clocks` prints them as the console line
//   FARM_CLOCKS counter_ns=<ns> clock_ns=<ns>
#ifndef KVMFARM_WORKLOADS_GUEST_CLOCK_H_
#define KVMFARM_WORKLOADS_GUEST_CLOCK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmfarm::workloads {

struct GuestClocks {
  int64_t counter_ns = 0;  // the CPU's counter since it started, in nanoseconds
  int64_t clock_ns = 0;    // CLOCK_MONOTONIC at the same instant
};

// Reads both. UNIMPLEMENTED on other architectures than x86-64 and arm64,
// FAILED_PRECONDITION when the counter does not advance.
absl::StatusOr<GuestClocks> ReadGuestClocks(absl::Duration calibration = absl::Milliseconds(50));

// The counter's ticks per second: arm64's says its own (CNTFRQ_EL0); x86's TSC rate
// is not told to user space, so it is measured against CLOCK_MONOTONIC over
// `calibration`, from clock readings taken tightly around counter readings.
double MeasureCounterRate(absl::Duration calibration);

// The counter's ticks in nanoseconds at `ticks_per_second`, without overflow for
// any count a booted machine reaches.
int64_t TicksToNanoseconds(uint64_t ticks, double ticks_per_second);

// "FARM_CLOCKS counter_ns=<ns> clock_ns=<ns>".
std::string FormatClocksLine(const GuestClocks& clocks);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_GUEST_CLOCK_H_
