// -----------------------------------------------------------------------------
// File: qemu_memory.h
// -----------------------------------------------------------------------------
//
// What a running QEMU holds in memory, split into the guest's RAM and QEMU's own,
// from /proc/PID/smaps. boot.memory_overhead answers the reference's question with
// it: the hypervisor's cost relative to the guest's memory, that is QEMU's resident
// memory beyond the guest RAM pages it backs, against the guest's RAM size. The
// guest's RAM is the one anonymous mapping of the guest's RAM size (QEMU maps a
// guest's RAM below 4 GiB as one block on microvm, pc and virt).
//
// Example:
//
//   ASSIGN_OR_RETURN(QemuMemory memory, ReadQemuMemory(pid, 256 * 1024));
//   double overhead = memory.OverheadPercent();
#ifndef KVMFARM_AGENT_VM_QEMU_MEMORY_H_
#define KVMFARM_AGENT_VM_QEMU_MEMORY_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::vm {

struct QemuMemory {
  // QEMU's resident memory: every mapping's Rss.
  int64_t rss_kb = 0;
  // The guest's RAM size, and how much of it is resident (pages the guest touched).
  int64_t guest_ram_kb = 0;
  int64_t guest_ram_resident_kb = 0;

  // QEMU's resident memory beyond the guest RAM it backs.
  int64_t own_kb() const { return rss_kb - guest_ram_resident_kb; }
  // own_kb() against the guest's RAM size, in percent.
  double OverheadPercent() const;
};

// From the text of /proc/PID/smaps. NOT_FOUND when no anonymous mapping has the
// guest RAM's size; INVALID_ARGUMENT for text that is not smaps.
absl::StatusOr<QemuMemory> ParseQemuSmaps(absl::string_view smaps, int64_t guest_ram_kb);

// Reads /proc/PID/smaps (at most 16 MiB of it) and parses it.
absl::StatusOr<QemuMemory> ReadQemuMemory(pid_t pid, int64_t guest_ram_kb);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_QEMU_MEMORY_H_
