#include "agent/vm/qemu_command.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/vm/qemu_launch.h"
#include "common/cpuinfo_fields.h"
#include "common/limits.h"
#include "common/status_macros.h"

namespace kvmfarm::vm {

VmSpec GuestVmSpec(const GuestImage& image, farm::v1::Mode accel,
                   const farm::v1::GuestConfig& guest, uint32_t default_vcpus,
                   uint32_t default_memory_mib) {
  VmSpec spec;
  spec.image = image;
  spec.accel = accel;
  spec.vcpus = guest.vcpus() ? guest.vcpus() : default_vcpus;
  spec.memory_mib = guest.memory_mib() ? guest.memory_mib() : default_memory_mib;
  spec.cpu_model = guest.cpu_model();
  return spec;
}

uint64_t HostTscKhz() {
  double mhz = 0;
  if (!absl::SimpleAtod(FirstProcessorField(ReadCpuinfo(), "cpu MHz"), &mhz)) return 0;
  return static_cast<uint64_t>(mhz * 1000);
}

absl::StatusOr<QemuCommand> BuildQemuCommand(const VmSpec& spec, const std::string& qemu_binary) {
  if (spec.accel != farm::v1::MODE_KVM && spec.accel != farm::v1::MODE_TCG) {
    return absl::InvalidArgumentError("accel must be MODE_KVM or MODE_TCG");
  }
  if (spec.vcpus < kMinGuestVcpus || spec.vcpus > kMaxGuestVcpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("vcpus ", spec.vcpus, " is outside ", kMinGuestVcpus, "..", kMaxGuestVcpus));
  }
  if (spec.memory_mib < kMinGuestMemoryMib || spec.memory_mib > kMaxGuestMemoryMib) {
    return absl::InvalidArgumentError(absl::StrCat("memory_mib ", spec.memory_mib, " is outside ",
                                                   kMinGuestMemoryMib, "..", kMaxGuestMemoryMib));
  }
  const bool kvm = spec.accel == farm::v1::MODE_KVM;
  const bool x86 = spec.image.arch == farm::v1::CPU_ARCH_X86_64;
  QemuCommand cmd;
  const bool pc = x86 && spec.machine == "pc";
  cmd.machine = pc ? "pc" : x86 ? "microvm" : "virt";
  cmd.cpu_model = !spec.cpu_model.empty() ? spec.cpu_model
                  : kvm                   ? "host"
                  : x86                   ? "qemu64"
                                          : "cortex-a72";
  const std::string qemu = !qemu_binary.empty() ? qemu_binary
                           : x86                ? "qemu-system-x86_64"
                                                : "qemu-system-aarch64";
  ASSIGN_OR_RETURN(const QemuLaunch launch, ResolveQemuLaunch(qemu));
  cmd.argv = launch.argv;
  // x86 microvm under TCG with one vCPU: the kernel would calibrate its local APIC
  // timer against 100 ms of PIT ticks, which TCG stretches to a quarter of a second
  // of every boot; the PIT is the tick instead. Not with more vCPUs: Debian's
  // kernel then hangs bringing up the second one. (Under KVM the TSC-deadline timer
  // needs no calibration.) The PC machine boots stock, as the reference to compare
  // with.
  const bool pit_tick = x86 && !pc && !kvm && spec.vcpus == 1;
  cmd.argv.insert(
      cmd.argv.end(),
      {"-M",
       pc    ? "pc"
       : x86 ? absl::StrCat("microvm,x-option-roms=off,rtc=on,isa-serial=on",
                            spec.image.acpi ? "" : ",acpi=off")
             : "virt",
       "-accel",
       kvm ? "kvm" : "tcg",
       "-cpu",
       cmd.cpu_model,
       "-m",
       absl::StrCat(spec.memory_mib),
       "-smp",
       absl::StrCat(spec.vcpus),
       "-nodefaults",
       "-no-user-config",
       "-nographic",
       "-serial",
       "stdio",
       "-kernel",
       spec.image.kernel,
       "-initrd",
       spec.image.initramfs,
       "-append",
       absl::StrCat(
           x86 ? "console=ttyS0" : "console=ttyAMA0", " quiet panic=-1",
           x86 && !kvm && spec.tsc_khz > 0 ? absl::StrCat(" tsc_early_khz=", spec.tsc_khz) : "",
           pit_tick ? " nolapic_timer" : "", spec.extra_kernel_args.empty() ? "" : " ",
           spec.extra_kernel_args),
       "-no-reboot"});
  if (!spec.scratch_disk.empty()) {
    // cache=none: the host's page cache must not stand in for the disk either.
    cmd.argv.push_back("-drive");
    cmd.argv.push_back(
        absl::StrCat("file=", spec.scratch_disk, ",if=none,id=scratch,format=raw,cache=none"));
    cmd.argv.push_back("-device");
    cmd.argv.push_back("virtio-blk-device,drive=scratch");
  }
  if (!spec.qmp_socket.empty()) {
    cmd.argv.push_back("-qmp");
    cmd.argv.push_back(absl::StrCat("unix:", spec.qmp_socket, ",server=on,wait=off"));
  }
  return cmd;
}

}  // namespace kvmfarm::vm
