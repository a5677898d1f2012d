// -----------------------------------------------------------------------------
// File: qemu_command.h
// -----------------------------------------------------------------------------
//
// The QEMU command line for one guest, as argv (never a shell string). Chosen for
// fast, honest boots:
//  * x86_64: the `microvm` machine loading the uncompressed kernel directly through
//    its PVH entry (no firmware, no PCI), serial console on stdio; without ACPI
//    for an image whose kernel has none (GuestImage::acpi); under TCG with one vCPU,
//    the PIT as the kernel's tick (`nolapic_timer`: calibrating the APIC timer
//    costs TCG a quarter of a second per boot).
//  * arm64: the `virt` machine.
//  * KVM: `-cpu host`, so the guest sees the CPU's AES and other extensions (the
//    default model hides them and "% of native" for crypto would be a lie).
//  * TCG: a model that doesn't make the emulator crawl (x86_64 qemu64, arm64
//    cortex-a72, not max with its pointer-authentication emulation).
//  * QMP on a Unix socket, `-no-reboot` so a guest's reboot (or panic) ends QEMU.
#ifndef KVMFARM_AGENT_VM_QEMU_COMMAND_H_
#define KVMFARM_AGENT_VM_QEMU_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/vm/image.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::vm {

struct VmSpec {
  GuestImage image;
  farm::v1::Mode accel = farm::v1::MODE_TCG;  // MODE_KVM or MODE_TCG
  uint32_t vcpus = 1;
  uint32_t memory_mib = 256;
  std::string cpu_model;  // empty: chosen as above
  // x86_64 only: "pc" boots a compressed bzImage through the PC firmware (for the
  // boot benchmark's comparison); empty = microvm.
  std::string machine;
  std::string extra_kernel_args;  // "farm.run=echo"
  std::string qmp_socket;         // empty: no QMP
  // x86_64 under TCG: the TSC frequency to give the guest kernel (tsc_early_khz).
  // TCG's TSC runs at the host's rate, and the guest's own calibration against the
  // PIT fails when the host is busy (several VMs on two cores), after which the
  // kernel hangs in early boot. 0 = let the guest calibrate.
  uint64_t tsc_khz = 0;
  // A raw scratch disk file attached as a virtio block device (/dev/vda).
  std::string scratch_disk;
};

struct QemuCommand {
  std::vector<std::string> argv;
  std::string machine;
  std::string cpu_model;
};

// The VmSpec a request's guest config asks for: `image` under `accel`, the
// config's vCPUs and memory where given (else the defaults), its CPU model. The
// rest (kernel arguments, TSC rate, disks) is the caller's.
VmSpec GuestVmSpec(const GuestImage& image, farm::v1::Mode accel,
                   const farm::v1::GuestConfig& guest, uint32_t default_vcpus,
                   uint32_t default_memory_mib);

// The host's TSC frequency in kHz from /proc/cpuinfo ("cpu MHz"), 0 if unknown.
uint64_t HostTscKhz();

// `qemu_binary` empty: qemu-system-x86_64 / qemu-system-aarch64 by the image's arch.
absl::StatusOr<QemuCommand> BuildQemuCommand(const VmSpec& spec, const std::string& qemu_binary);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_QEMU_COMMAND_H_
