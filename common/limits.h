// -----------------------------------------------------------------------------
// File: limits.h
// -----------------------------------------------------------------------------
//
// The most a request may ask of kvmfarm, defined once for both sides: the
// controller checks a sweep against them before accepting it, and the agent checks
// every job it is sent (whoever sends it). Because the two read the same numbers,
// a sweep the controller accepts only makes jobs its agents accept.
//
// A workload's size and iteration range is the workload's own: workloads/catalog.h.
//
// Example:
//
//   if (request.vm_count() > kMaxVmsPerBoot) {
//     return absl::InvalidArgumentError(
//         absl::StrCat("vm_count ", request.vm_count(), " is above ", kMaxVmsPerBoot));
//   }
#ifndef KVMFARM_COMMON_LIMITS_H_
#define KVMFARM_COMMON_LIMITS_H_

#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"

namespace kvmfarm {

// Repetitions one agent job runs back to back. They differ by job because a
// repetition does: a benchmark repetition is one pass of each workload (seconds),
// a boot repetition boots and stops up to kMaxVmsPerBoot guests (minutes under TCG).
inline constexpr uint32_t kMaxBenchmarkRepetitions = 1000;  // RunBenchmarkRequest
inline constexpr uint32_t kMaxBootRepetitions = 100;        // BootVmRequest

// A sweep's repetitions go to every task it makes, boots included, so a sweep may
// ask for no more than every kind of agent job accepts.
inline constexpr uint32_t kMaxSweepRepetitions =
    std::min(kMaxBenchmarkRepetitions, kMaxBootRepetitions);

// Guests booted at once by one boot job (BootPlan.vm_count, BootVmRequest.vm_count).
inline constexpr uint32_t kMaxVmsPerBoot = 16;

// A guest's size (GuestConfig.vcpus, GuestConfig.memory_mib), inclusive.
inline constexpr uint32_t kMinGuestVcpus = 1;
inline constexpr uint32_t kMaxGuestVcpus = 64;
inline constexpr uint32_t kMinGuestMemoryMib = 64;
inline constexpr uint32_t kMaxGuestMemoryMib = 65536;

// The longest deadline a request may give: an agent job's deadline and boot
// deadline (RunBenchmarkRequest, BootVmRequest) and a sweep's task deadline, which
// becomes the job's. A day is far beyond any measurement; more is a mistake.
inline constexpr absl::Duration kMaxJobDeadline = absl::Hours(24);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_LIMITS_H_
