// -----------------------------------------------------------------------------
// File: emulated_arm64.h
// -----------------------------------------------------------------------------
//
// The emulated arm64 machine the arm64 tests boot: QEMU's `virt` board with a
// Cortex-A72 under TCG, Debian's arm64 kernel from //guest_images, a test
// initramfs, and EL2 when asked (virtualization=on), so the kernel has a real KVM.
//
// Example:
//
//   EmulatedArm64 machine;
//   machine.initramfs = "tests/arm64/el2_initramfs.cpio.gz";
//   ProcessResult result = RunCommand(EmulatedArm64Command(machine), {});
#ifndef KVMFARM_TESTS_ARM64_EMULATED_ARM64_H_
#define KVMFARM_TESTS_ARM64_EMULATED_ARM64_H_

#include <string>
#include <vector>

namespace kvmfarm::testing {

struct EmulatedArm64 {
  // After "virt,": "virtualization=on" gives the kernel EL2.
  std::string machine_options = "virtualization=on";
  // Appended to "console=ttyAMA0 quiet panic=-1".
  std::string kernel_args;
  // Runfile path of the initramfs.
  std::string initramfs;
  int memory_mib = 512;
  int cpus = 1;
  // More QEMU arguments (a network device, ...).
  std::vector<std::string> extra_args;
};

// The qemu-system-aarch64 command line; the console is its standard output.
std::vector<std::string> EmulatedArm64Command(const EmulatedArm64& machine);

}  // namespace kvmfarm::testing

#endif  // KVMFARM_TESTS_ARM64_EMULATED_ARM64_H_
