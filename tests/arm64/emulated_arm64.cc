#include "tests/arm64/emulated_arm64.h"

#include "absl/strings/str_cat.h"
#include "common/testing/run_binary.h"

namespace kvmfarm::testing {

std::vector<std::string> EmulatedArm64Command(const EmulatedArm64& machine) {
  std::vector<std::string> argv = {
      "qemu-system-aarch64",
      "-M",
      absl::StrCat("virt,", machine.machine_options),
      "-cpu",
      "cortex-a72",
      "-accel",
      "tcg",
      "-smp",
      absl::StrCat(machine.cpus),
      "-m",
      absl::StrCat(machine.memory_mib),
      "-nographic",
      "-nodefaults",
      "-no-user-config",
      "-serial",
      "stdio",
      "-no-reboot",
      "-kernel",
      Runfile("guest_images/images/arm64-debian/kernel"),
      "-initrd",
      Runfile(machine.initramfs),
      "-append",
      absl::StrCat("console=ttyAMA0 quiet panic=-1 ", machine.kernel_args)};
  argv.insert(argv.end(), machine.extra_args.begin(), machine.extra_args.end());
  return argv;
}

}  // namespace kvmfarm::testing
