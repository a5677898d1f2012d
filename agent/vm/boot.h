// -----------------------------------------------------------------------------
// File: boot.h
// -----------------------------------------------------------------------------
//
// The VM measurements behind the reference's headline figures, for real:
//  * boot.time_to_userspace (s): spawn to the guest's boot marker, host monotonic
//    clock, every VM of every repetition (the guest's own uptime is kept too);
//  * boot.all_of_n (s): with N VMs spawned together, until the last is in user space;
//  * boot.switch_latency (ms): with two VMs running, pause one (QMP stop), resume the
//    other (QMP cont) and time until it answers a console line;
//  * boot.memory_overhead (%): the hypervisor's cost relative to the guest's memory,
//    QEMU's resident memory beyond the guest RAM it backs against the guest's RAM
//    size (qemu_memory.h); each VmBoot keeps the parts.
// A guest that doesn't reach user space by its deadline is killed with its whole
// process group, and the result says how far it got (its last console lines) and
// why. A failed boot is a result, not an error.
#ifndef KVMFARM_AGENT_VM_BOOT_H_
#define KVMFARM_AGENT_VM_BOOT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/job_runner.h"
#include "farm/v1/agent.pb.h"

namespace kvmfarm::vm {

struct BootJobOptions {
  // The agent's image directory (--image-dir).
  std::string image_dir;
  // A QEMU binary to use; empty = qemu-system-* from PATH.
  std::string qemu_binary;
  absl::Duration default_boot_deadline = absl::Seconds(60);
  uint32_t default_vcpus = 1;
  uint32_t default_memory_mib = 256;
  // Switch-latency samples per repetition.
  int switch_samples = 10;
  // Where the io workload's scratch disk file is created (on a disk).
  std::string work_dir = "/tmp";
  // Where QMP sockets' directories are made: at most kMaxSocketDirLength bytes, as
  // a Unix socket's path is limited to 108.
  std::string socket_dir = "/tmp";
};

inline constexpr size_t kMaxSocketDirLength = 64;

// INVALID_ARGUMENT naming the field (attempt_id, accel, vm_count, guest.image, ...),
// NOT_FOUND for an image that isn't there.
absl::Status ValidateBootRequest(const farm::v1::BootVmRequest& request,
                                 const BootJobOptions& options);

// Runs a validated request. The context may be empty (the capability boot check
// at start-up: no lease, no client).
farm::v1::BootResult RunBootJob(const farm::v1::BootVmRequest& request,
                                const BootJobOptions& options, const JobContext& context = {});

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_BOOT_H_
